package workitems

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/task"
)

// Scopes of the scope input.
const (
	ScopeProject = "project"
	ScopeRun     = "run"
)

// maxThreshold bounds the max* inputs; larger numbers are typos, not policies.
const maxThreshold = 1_000_000

// Config is the validated inputs of one evaluation.
type Config struct {
	Project   string
	Tags      []string
	Types     []string
	AreaPath  string
	Scope     string
	QueryID   string
	Max       [Low + 1]int // open items allowed per severity; -1 no limit
	SLA       SLADays
	Default   Severity
	ReviewTag string
	// BuildID is the run's build (BUILD_BUILDID); set when scope is run or a review tag is
	// required.
	BuildID int
	// BuildProject is the project the run belongs to (System.TeamProject), which may differ
	// from Project: build work item refs are read there.
	BuildProject string
}

// needsRun reports whether the evaluation reads the work items linked to the run.
func (c *Config) needsRun() bool { return c.Scope == ScopeRun || c.ReviewTag != "" }

// parseConfig reads and validates every input before anything is requested, so that a typo
// fails fast and names the input.
func parseConfig(rt *gaterun.Runtime) (*Config, error) {
	in := rt.Inputs
	c := &Config{}
	var err error
	if c.Project, err = in.Required("project"); err != nil {
		return nil, err
	}
	if c.Scope, err = in.Pick("scope", ScopeProject, ScopeRun); err != nil {
		return nil, err
	}
	c.Tags = in.List("tags")
	for _, t := range c.Tags {
		if strings.Contains(t, ";") {
			return nil, &task.InputError{Input: "tags", Value: in.Raw("tags"),
				Expected: fmt.Sprintf("comma-separated tags; %q contains ';', which no tag can contain", t)}
		}
	}
	c.Types = in.List("workItemTypes")
	c.AreaPath = strings.TrimRight(in.String("areaPath"), `\/ `)
	c.QueryID = in.String("queryId")
	if len(c.Tags) == 0 && c.QueryID == "" {
		return nil, &task.InputError{Input: "tags", Expected: "at least one tag, or a saved query in queryId"}
	}
	for _, s := range severities {
		name := s.maxInput()
		if c.Max[s], err = in.Int(name, -1, maxThreshold); err != nil {
			return nil, fmt.Errorf("%w (-1 means no limit)", err)
		}
	}
	if c.SLA, err = ParseSLA(in.Raw("slaDays")); err != nil {
		return nil, &task.InputError{Input: "slaDays", Value: in.Raw("slaDays"), Expected: "severity=days pairs such as critical=7,high=30: " + err.Error()}
	}
	def := in.Raw("defaultSeverity")
	var ok bool
	if c.Default, ok = ParseSeverity(def); !ok {
		return nil, &task.InputError{Input: "defaultSeverity", Value: def, Expected: "one of 1 - Critical, 2 - High, 3 - Medium, 4 - Low (or critical, high, medium, low)"}
	}
	c.ReviewTag = in.String("requireReviewTag")
	if strings.ContainsAny(c.ReviewTag, ";,") {
		return nil, &task.InputError{Input: "requireReviewTag", Value: c.ReviewTag, Expected: "a single tag (tags cannot contain ';' or ',')"}
	}
	if c.needsRun() {
		why := `scope "run"`
		if c.Scope != ScopeRun {
			why = `requireReviewTag`
		}
		raw := task.Variable(rt.Env, "Build.BuildId")
		if raw == "" {
			return nil, fmt.Errorf("%s needs the run's build id, but BUILD_BUILDID is not set: run the task in a pipeline job, or locally set BUILD_BUILDID to the run's id", why)
		}
		id, err := strconv.Atoi(raw)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("%s needs the run's build id, but BUILD_BUILDID is %q, not a positive number", why, raw)
		}
		c.BuildID = id
		c.BuildProject = task.Variable(rt.Env, "System.TeamProject")
		if c.BuildProject == "" {
			c.BuildProject = c.Project
		}
	}
	return c, nil
}
