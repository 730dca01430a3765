package workitems

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/finding"
)

// Rule ids. The contract names none; these are stagegate's and stay stable.
const (
	RuleThreshold = "WI001"
	RuleOverdue   = "WI002"
	RuleReviewTag = "WI003"
)

// Check names, as the log groups and the summary show them.
const (
	CheckThresholds = "Severity thresholds"
	CheckSLA        = "SLA"
	CheckReviewTags = "Review tags"
)

// Output variable names (the task contract), plus oldestOpenAgeDays.
const (
	OutOpenCritical = "openCritical"
	OutOpenHigh     = "openHigh"
	OutOpenMedium   = "openMedium"
	OutOpenLow      = "openLow"
	OutOverdue      = "overdue"
	OutMTTR         = "meanTimeToResolveDays"
	OutOldestOpen   = "oldestOpenAgeDays"
)

var openOutputs = [...]string{Critical: OutOpenCritical, High: OutOpenHigh, Medium: OutOpenMedium, Low: OutOpenLow}

// Rules describes the gate's rules for the summary, SARIF and the docs.
func Rules() []finding.Rule {
	return []finding.Rule{
		{ID: RuleThreshold, Name: "OpenAboveThreshold", Severity: finding.Error,
			Description: "More open security work items of a severity than maxCritical, maxHigh, maxMedium or maxLow allow; one finding per open item of that severity.",
			Help:        "Resolve or re-triage the open items until the count is within the threshold, or raise the threshold input if the policy allows it."},
		{ID: RuleOverdue, Name: "OpenPastSLA", Severity: finding.Error,
			Description: "An open security work item is older (days since created) than the SLA slaDays gives its severity.",
			Help:        "Resolve the item, or re-triage its severity if it was overstated; a baseline entry can accept it with a justification and an expiry date."},
		{ID: RuleReviewTag, Name: "MissingReviewTag", Severity: finding.Error,
			Description: "A matching work item linked to this run does not carry the tag requireReviewTag names (security review done).",
			Help:        "Have the security review done and add the tag to the work item, then re-run the stage."},
	}
}

// item is a matching work item with what the gate derived from it.
type item struct {
	w        *azdo.WorkItem
	project  string
	sev      Severity
	category string // "" when the state is not in the type's states
	open     bool
	age      int // whole days since created
}

func (it *item) ref() string {
	return fmt.Sprintf("#%d %q", it.w.ID, clip(it.w.Title(), 120))
}

// Judge turns the facts into the report: findings, outputs and the KPI table. It reads no
// clock but now and makes no request.
func Judge(c *Config, f *Facts, now time.Time) *finding.Report {
	now = now.UTC()
	m := newMatcher(c, f)
	r := &finding.Report{Gate: "SecurityWorkItemGate", Title: "Security work item gate", Rules: Rules()}

	var (
		all                      []*item
		unknownSev, unknownState []string
		noClosedDate             []string
	)
	for i := range f.Items {
		w := &f.Items[i]
		if !m.matches(w) {
			continue
		}
		it := &item{w: w, project: itemProject(w, c), sev: c.Default}
		if v := w.Severity(); v != "" {
			if s, ok := ParseSeverity(v); ok {
				it.sev = s
			} else {
				unknownSev = append(unknownSev, fmt.Sprintf("#%d (%s)", w.ID, clip(v, 40)))
			}
		}
		cats, known := f.States[typeKey(it.project, w.Type())]
		it.category = cats[strings.ToLower(w.State())]
		switch {
		case it.category == "Removed":
			continue // removed items never count, and need no review
		case it.category == "":
			// A state the type does not list (renamed since, or no type): a security gate
			// counts it as open rather than let it pass unseen.
			it.open = true
			why := fmt.Sprintf("#%d (state %q of type %q)", w.ID, clip(w.State(), 40), clip(w.Type(), 40))
			if !known {
				why = fmt.Sprintf("#%d (type %q has no states)", w.ID, clip(w.Type(), 40))
			}
			unknownState = append(unknownState, why)
		default:
			it.open = it.category == "Proposed" || it.category == "InProgress"
		}
		if created := w.CreatedDate(); !created.IsZero() && now.After(created) {
			it.age = int(now.Sub(created).Hours() / 24)
		}
		all = append(all, it)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].w.ID < all[j].w.ID })

	var (
		open       [Low + 1][]*item
		overdue    [Low + 1][]*item
		oldest     [Low + 1]int
		resolved   [Low + 1]int
		resolveSum [Low + 1]float64
		openTotal  int
	)
	window := now.Add(-resolveWindowDays * 24 * time.Hour)
	for _, it := range all {
		if it.open {
			open[it.sev] = append(open[it.sev], it)
			openTotal++
			oldest[it.sev] = max(oldest[it.sev], it.age)
			if sla := c.SLA[it.sev]; sla >= 0 && it.age > sla {
				overdue[it.sev] = append(overdue[it.sev], it)
			}
			continue
		}
		if it.category != "Completed" {
			continue
		}
		closed, created := it.w.ClosedDate(), it.w.CreatedDate()
		if closed.IsZero() || created.IsZero() {
			noClosedDate = append(noClosedDate, "#"+strconv.Itoa(it.w.ID))
			continue
		}
		if closed.Before(window) || closed.After(now) || closed.Before(created) {
			continue
		}
		resolved[it.sev]++
		resolveSum[it.sev] += closed.Sub(created).Hours() / 24
	}

	// Findings can number in the thousands: size the slice once.
	nFindings := 0
	for _, s := range severities {
		if c.Max[s] >= 0 && len(open[s]) > c.Max[s] {
			nFindings += len(open[s])
		}
		nFindings += len(overdue[s])
	}
	if c.ReviewTag != "" {
		nFindings += len(all)
	}
	r.Findings = make([]finding.Finding, 0, nFindings)

	// Severity thresholds.
	r.Checks = append(r.Checks, finding.Check{Name: CheckThresholds, Detail: queryDetail(c, f, len(all), openTotal) + "\n" + thresholdDetail(c, open)})
	for _, s := range severities {
		limit := c.Max[s]
		if limit < 0 || len(open[s]) <= limit {
			continue
		}
		for _, it := range open[s] {
			r.Findings = append(r.Findings, newFinding(RuleThreshold, CheckThresholds, it,
				fmt.Sprintf("%d open %s items, %d allowed (%s): %s is open (%s, %s old)",
					len(open[s]), s, limit, s.maxInput(), it.ref(), clip(it.w.State(), 40), days(it.age))))
		}
	}

	// SLA.
	overdueTotal := 0
	for _, s := range severities {
		overdueTotal += len(overdue[s])
	}
	r.Checks = append(r.Checks, finding.Check{Name: CheckSLA, Detail: fmt.Sprintf("SLA in days since created: %s. %d of %d open items past their SLA.", c.SLA, overdueTotal, openTotal)})
	for _, s := range severities {
		for _, it := range overdue[s] {
			r.Findings = append(r.Findings, newFinding(RuleOverdue, CheckSLA, it,
				fmt.Sprintf("%s is %s old, past the %d-day SLA for %s by %s (%s)",
					it.ref(), days(it.age), c.SLA[s], s, days(it.age-c.SLA[s]), clip(it.w.State(), 40))))
		}
	}

	// Review tags.
	if c.ReviewTag != "" {
		linked := 0
		var missing []*item
		for _, it := range all {
			if !m.linked[it.w.ID] {
				continue
			}
			linked++
			if !it.w.HasTag(c.ReviewTag) {
				missing = append(missing, it)
			}
		}
		r.Checks = append(r.Checks, finding.Check{Name: CheckReviewTags, Detail: fmt.Sprintf(
			"%d work items linked to build %d, %d of them matching; %d without the review tag %q.", len(f.Linked), c.BuildID, linked, len(missing), c.ReviewTag)})
		for _, it := range missing {
			r.Findings = append(r.Findings, newFinding(RuleReviewTag, CheckReviewTags, it,
				fmt.Sprintf("%s is linked to this run (build %d) but does not carry the review tag %q (%s, %s, %s old)",
					it.ref(), c.BuildID, c.ReviewTag, clip(it.w.State(), 40), it.sev, days(it.age))))
		}
	}

	// Outputs and the KPI table.
	oldestAll, resolvedAll, sumAll := 0, 0, 0.0
	for _, s := range severities {
		oldestAll = max(oldestAll, oldest[s])
		resolvedAll += resolved[s]
		sumAll += resolveSum[s]
	}
	for _, s := range severities {
		r.Outputs = append(r.Outputs, finding.Output{Name: openOutputs[s], Value: strconv.Itoa(len(open[s])), Label: "Open " + s.String() + " items"})
	}
	r.Outputs = append(r.Outputs,
		finding.Output{Name: OutOverdue, Value: strconv.Itoa(overdueTotal), Label: "Open items past their SLA"},
		finding.Output{Name: OutMTTR, Value: formatMean(sumAll, resolvedAll), Label: fmt.Sprintf("Mean time to resolve in days (%d items closed in the last %d days)", resolvedAll, resolveWindowDays)},
		finding.Output{Name: OutOldestOpen, Value: strconv.Itoa(oldestAll), Label: "Age of the oldest open item in days"},
	)
	t := finding.Table{
		Title:  "Security work items by severity",
		Header: []string{"Severity", "Open", "Allowed", "Past SLA", "SLA (days)", "Oldest open (days)", fmt.Sprintf("Closed (last %d days)", resolveWindowDays), "Mean days to resolve"},
	}
	for _, s := range severities {
		t.Rows = append(t.Rows, []string{s.String(), strconv.Itoa(len(open[s])), limitText(c.Max[s]), strconv.Itoa(len(overdue[s])),
			slaText(c.SLA[s]), strconv.Itoa(oldest[s]), strconv.Itoa(resolved[s]), formatMean(resolveSum[s], resolved[s])})
	}
	t.Rows = append(t.Rows, []string{"Total", strconv.Itoa(openTotal), "", strconv.Itoa(overdueTotal), "", strconv.Itoa(oldestAll), strconv.Itoa(resolvedAll), formatMean(sumAll, resolvedAll)})
	r.Tables = append(r.Tables, t)

	if len(unknownSev) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d work items have a severity value stagegate does not know and were judged as %s (defaultSeverity): %s", len(unknownSev), c.Default, list(unknownSev)))
	}
	if len(unknownState) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d work items are in a state their type's states do not list and were counted as open: %s", len(unknownState), list(unknownState)))
	}
	if len(noClosedDate) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d completed work items have no closed date and are left out of the mean time to resolve: %s", len(noClosedDate), list(noClosedDate)))
	}
	return r
}

func newFinding(rule, check string, it *item, msg string) finding.Finding {
	return finding.Finding{
		Rule:        rule,
		Severity:    finding.Error,
		Check:       check,
		Message:     msg,
		Location:    finding.Location{Logical: "workitem/" + strconv.Itoa(it.w.ID)},
		URL:         it.w.URL,
		Fingerprint: finding.Fingerprint(rule, strings.ToLower(it.project), strconv.Itoa(it.w.ID)),
	}
}

// queryDetail says what was queried, for the log.
func queryDetail(c *Config, f *Facts, matching, open int) string {
	var b strings.Builder
	switch {
	case c.QueryID != "":
		fmt.Fprintf(&b, "Saved query %q in project %q (tags, work item types and area path are ignored)", c.QueryID, c.Project)
		if c.Scope == ScopeRun {
			fmt.Fprintf(&b, ", narrowed to the %d work items linked to build %d", len(f.Linked), c.BuildID)
		}
		fmt.Fprintf(&b, ": %d work items returned", len(f.Queried))
	case c.Scope == ScopeRun:
		fmt.Fprintf(&b, "Work items linked to build %d (project %q): %d; filters tags %s, work item types %s, area path %s",
			c.BuildID, c.BuildProject, len(f.Linked), quoteList(c.Tags), orAll(quoteList(c.Types)), orAll(quoteIf(c.AreaPath)))
	default:
		fmt.Fprintf(&b, "Project %q: tags %s, work item types %s, area path %s: %d work items returned (not closed, or closed in the last %d days)\nWIQL: %s",
			c.Project, quoteList(c.Tags), orAll(quoteList(c.Types)), orAll(quoteIf(c.AreaPath)), len(f.Queried), resolveWindowDays, f.WIQL)
	}
	fmt.Fprintf(&b, "\nRead %d work items; %d match (Removed excluded), %d of them open (state category Proposed or InProgress, from the states of %d work item types).",
		len(f.Items), matching, open, len(f.States))
	return b.String()
}

func thresholdDetail(c *Config, open [Low + 1][]*item) string {
	parts := make([]string, 0, len(severities))
	for _, s := range severities {
		allowed := "no limit"
		if c.Max[s] >= 0 {
			allowed = fmt.Sprintf("%d allowed", c.Max[s])
		}
		parts = append(parts, fmt.Sprintf("%s %d (%s)", s.Name(), len(open[s]), allowed))
	}
	return "Open by severity: " + strings.Join(parts, ", ") + fmt.Sprintf("; items without a severity count as %s.", c.Default)
}

func limitText(n int) string {
	if n < 0 {
		return "no limit"
	}
	return strconv.Itoa(n)
}

func slaText(n int) string {
	if n < 0 {
		return "none"
	}
	return strconv.Itoa(n)
}

// formatMean formats a mean number of days with at most one decimal ("15", "12.5"), and "0" when
// there is nothing to average, as the contract says.
func formatMean(sum float64, n int) string {
	if n == 0 {
		return "0"
	}
	return strconv.FormatFloat(math.Round(sum/float64(n)*10)/10, 'f', -1, 64)
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

func quoteList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func quoteIf(s string) string {
	if s == "" {
		return ""
	}
	return strconv.Quote(s)
}

func orAll(s string) string {
	if s == "" {
		return "(all)"
	}
	return s
}

// list joins up to 20 entries, then says how many more.
func list(v []string) string {
	if len(v) > 20 {
		return strings.Join(v[:20], ", ") + fmt.Sprintf(" and %d more", len(v)-20)
	}
	return strings.Join(v, ", ")
}

// clip shortens untrusted text for messages, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
