package pipeline

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

// Pipeline is the model of an Azure Pipelines YAML file (a pipeline or a
// stage/job/step/variable template). The hierarchy is Stages -> Jobs ->
// Steps; the flat lists (AllJobs, AllSteps, AllVariables) hold every item
// found anywhere, including inside template parameters and ${{ }}
// conditional blocks, in document order.
type Pipeline struct {
	Path       string
	Doc        *Document
	Parameters []*Parameter // template/runtime parameters
	Variables  []*Variable  // pipeline-level variables
	Stages     []*Stage     // top-level stages
	Jobs       []*Job       // top-level jobs (pipelines without stages)
	Steps      []*Step      // top-level steps (single-job pipelines, step templates)
	Extends    *TemplateRef // extends: template + parameters

	AllJobs      []*Job
	AllSteps     []*Step
	AllVariables []*Variable
}

// Parameter is an entry of the top-level "parameters" list.
type Parameter struct {
	Name    string
	NamePos pos.Pos
	Type    string
	Default *yaml.Node // nil when absent
	Node    *yaml.Node
}

// TemplateRef is a "template:" reference with its parameters.
type TemplateRef struct {
	Template    string
	TemplatePos pos.Pos
	Parameters  *yaml.Node // nil when absent
}

// Variable is one pipeline variable definition: a name/value pair (mapping
// or list form), a variable group reference, or a variable template.
type Variable struct {
	Name     string
	NamePos  pos.Pos
	Value    string
	ValuePos pos.Pos
	// ValueNode is the YAML value; Value is only meaningful when it is a
	// scalar.
	ValueNode *yaml.Node
	Group     string // "- group: name" entries
	Template  *TemplateRef
	Readonly  bool
	// Conditional is set when the definition sits under a ${{ if }} /
	// ${{ each }} block.
	Conditional bool
	Scope       Scope
	Stage       *Stage // owning stage, or nil
	Job         *Job   // owning job, or nil
	Pos         pos.Pos
}

// Scope says where a variable is defined.
type Scope uint8

// Variable scopes.
const (
	ScopePipeline Scope = iota
	ScopeStage
	ScopeJob
)

func (s Scope) String() string {
	switch s {
	case ScopeStage:
		return "stage"
	case ScopeJob:
		return "job"
	}
	return "pipeline"
}

// Stage is a "- stage:" entry or a stage template reference.
type Stage struct {
	Name      string
	Pos       pos.Pos
	Template  *TemplateRef
	Variables []*Variable
	Jobs      []*Job
	Node      *yaml.Node
}

// Job is a "- job:", "- deployment:" entry or a job template reference.
type Job struct {
	Name        string
	Kind        string // "job", "deployment" or "template"
	Pos         pos.Pos
	Environment string // deployment jobs
	Strategy    string // runOnce, rolling, canary (deployment jobs)
	Template    *TemplateRef
	Variables   []*Variable
	Steps       []*Step
	Stage       *Stage
	Node        *yaml.Node
}

// StepKind is the type of a step.
type StepKind uint8

// Step kinds.
const (
	StepUnknown StepKind = iota
	StepTask
	StepScript // script:
	StepBash
	StepPwsh
	StepPowerShell
	StepCheckout
	StepDownload
	StepTemplate
	StepOther // publish, downloadBuild, getPackage, reviewApp, ...
)

func (k StepKind) String() string {
	names := [...]string{"unknown", "task", "script", "bash", "pwsh", "powershell", "checkout", "download", "template", "other"}
	if int(k) < len(names) {
		return names[k]
	}
	return "unknown"
}

// IsScript reports whether the step runs an inline script.
func (k StepKind) IsScript() bool {
	return k == StepScript || k == StepBash || k == StepPwsh || k == StepPowerShell
}

// KeyValue is one entry of a mapping (inputs:, env:, parameters:).
type KeyValue struct {
	Key      string
	KeyPos   pos.Pos
	Value    string // scalar value ("" for mappings and sequences)
	ValuePos pos.Pos
	Node     *yaml.Node // the value node
}

// IsScalar reports whether the value is a scalar.
func (kv *KeyValue) IsScalar() bool { return kv.Node != nil && kv.Node.Kind == yaml.ScalarNode }

// Step is one step.
type Step struct {
	Kind        StepKind
	Keyword     string // the key that identified the step: task, script, bash, template, ...
	Task        string // task name without version ("AzureCLI"); for task steps
	TaskVersion string // "2"
	TaskPos     pos.Pos
	// Script is the inline script of script/bash/pwsh/powershell steps.
	Script      string
	ScriptNode  *yaml.Node
	DisplayName string
	Inputs      []*KeyValue
	Env         []*KeyValue
	Template    *TemplateRef // template steps
	// Hook names the deployment lifecycle hook holding the step
	// ("deploy", "preDeploy", "on.failure", ...), "" for plain jobs.
	Hook        string
	Conditional bool
	Job         *Job
	Stage       *Stage
	Pos         pos.Pos
	Node        *yaml.Node
}

// Input returns the task input named name (case-insensitive, as Azure
// Pipelines matches input names), or nil.
func (s *Step) Input(name string) *KeyValue {
	for i := len(s.Inputs) - 1; i >= 0; i-- {
		if strings.EqualFold(s.Inputs[i].Key, name) {
			return s.Inputs[i]
		}
	}
	return nil
}

// IsTask reports whether the step runs task name (case-insensitive, any
// version).
func (s *Step) IsTask(name string) bool {
	return s.Kind == StepTask && strings.EqualFold(s.Task, name)
}

// Parse decodes src with ParseYAML and builds the pipeline model. It does
// not require the file to look like a pipeline (see IsPipeline).
func Parse(path string, src []byte) (*Pipeline, error) {
	doc, err := ParseYAML(path, src)
	if err != nil {
		return nil, err
	}
	return Build(doc)
}

// IsPipeline reports whether the document is an Azure Pipelines file: a
// top-level mapping with a "steps", "jobs" or "stages" sequence (stage
// entries must be mappings, which rules out GitLab CI), an "extends"
// mapping, or a variables template (only "variables"/"parameters" keys).
// GitHub Actions workflows (a mapping under "jobs", an "on" trigger) do not
// qualify.
func IsPipeline(doc *Document) bool {
	if doc == nil || doc.Root == nil || doc.Root.Kind != yaml.MappingNode {
		return false
	}
	keys := map[string]*yaml.Node{}
	for _, kv := range pairs(doc.Root, 0) {
		keys[kv.key.Value] = resolve(kv.value)
	}
	if _, ok := keys["on"]; ok {
		return false
	}
	isSeq := func(k string) bool { n := keys[k]; return n != nil && n.Kind == yaml.SequenceNode }
	if stages := keys["stages"]; stages != nil && stages.Kind == yaml.SequenceNode {
		for _, it := range stages.Content {
			if resolve(it).Kind != yaml.MappingNode {
				return false
			}
		}
		return true
	}
	if isSeq("jobs") || isSeq("steps") {
		return true
	}
	if ext := keys["extends"]; ext != nil && ext.Kind == yaml.MappingNode {
		return true
	}
	if v := keys["variables"]; v != nil && (v.Kind == yaml.SequenceNode || v.Kind == yaml.MappingNode) {
		for k := range keys {
			if k != "variables" && k != "parameters" {
				return false
			}
		}
		return true
	}
	return false
}

// Build turns a decoded document into the pipeline model. Unexpected
// shapes (a scalar where steps belong) are skipped, not errors: the rules
// run on what is there.
func Build(doc *Document) (*Pipeline, error) {
	p := &Pipeline{Path: doc.Path, Doc: doc}
	root := doc.Root
	if root == nil {
		return p, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, pos.Errorf(doc.Path, doc.Pos(root), "expected a mapping at the top of an Azure Pipelines file, found %s", describeNode(root))
	}
	b := &builder{doc: doc, p: p}
	for _, kv := range pairs(root, 0) {
		v := resolve(kv.value)
		switch kv.key.Value {
		case "parameters":
			b.parameters(v)
		case "variables":
			p.Variables = b.variables(v, ScopePipeline, nil, nil, kv.cond)
		case "stages":
			p.Stages = b.stages(v)
		case "jobs":
			p.Jobs = b.jobs(v, nil)
		case "steps":
			p.Steps = b.steps(v, nil, nil, "")
		case "extends":
			p.Extends = b.templateRef(v)
			if p.Extends != nil {
				var f found
				b.scanParams(p.Extends.Parameters, nil, nil, 0, &f)
				p.Stages = append(p.Stages, f.stages...)
				p.Jobs = append(p.Jobs, f.jobs...)
				p.Steps = append(p.Steps, f.steps...)
			}
		}
	}
	return p, nil
}

type builder struct {
	doc *Document
	p   *Pipeline
}

type pair struct {
	key, value *yaml.Node
	cond       bool
}

// resolve follows an alias to its anchor (expansion is bounded by
// ParseYAML's limits).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isExprKey(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "${{") }

// pairs lists a mapping's entries, descending into "${{ if ... }}:" /
// "${{ each }}:" keys whose value is a mapping (their entries are marked
// conditional).
func pairs(m *yaml.Node, depth int) []pair {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode || depth > 50 {
		return nil
	}
	out := make([]pair, 0, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && isExprKey(k.Value) {
			for _, inner := range pairs(v, depth+1) {
				inner.cond = true
				out = append(out, inner)
			}
			continue
		}
		if k.Kind == yaml.ScalarNode && k.Value == "<<" {
			// Merge key: its mapping's entries belong here.
			out = append(out, pairs(v, depth+1)...)
			continue
		}
		out = append(out, pair{key: k, value: v})
	}
	return out
}

type item struct {
	node *yaml.Node
	cond bool
}

// items lists a sequence's entries, flattening "- ${{ if ... }}:" entries
// whose value is a sequence.
func items(s *yaml.Node, depth int) []item {
	s = resolve(s)
	if s == nil || s.Kind != yaml.SequenceNode || depth > 50 {
		return nil
	}
	out := make([]item, 0, len(s.Content))
	for _, it := range s.Content {
		it = resolve(it)
		if it.Kind == yaml.MappingNode && len(it.Content) == 2 && it.Content[0].Kind == yaml.ScalarNode && isExprKey(it.Content[0].Value) {
			inner := resolve(it.Content[1])
			if inner.Kind == yaml.SequenceNode {
				for _, x := range items(inner, depth+1) {
					x.cond = true
					out = append(out, x)
				}
				continue
			}
		}
		out = append(out, item{node: it})
	}
	return out
}

// get returns the value of key in m as pairs would list it (the first match, looking into
// conditional and merged mappings in place), without building the list: the builder asks for
// several keys of every stage, job, step and variable.
func get(m *yaml.Node, key string) *yaml.Node {
	return lookup(m, key, 0)
}

func lookup(m *yaml.Node, key string, depth int) *yaml.Node {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode || depth > 50 {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && (k.Value == "<<" || isExprKey(k.Value)) {
			if found := lookup(v, key, depth+1); found != nil {
				return found
			}
			continue
		}
		if k.Value == key {
			return resolve(v)
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

func (b *builder) templateRef(n *yaml.Node) *TemplateRef {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return &TemplateRef{Template: n.Value, TemplatePos: b.doc.Pos(n)}
	}
	t := get(n, "template")
	if t == nil {
		return nil
	}
	return &TemplateRef{Template: scalar(t), TemplatePos: b.doc.Pos(t), Parameters: get(n, "parameters")}
}

func (b *builder) parameters(n *yaml.Node) {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, it := range items(n, 0) {
			name := get(it.node, "name")
			if name == nil {
				continue
			}
			b.p.Parameters = append(b.p.Parameters, &Parameter{
				Name: scalar(name), NamePos: b.doc.Pos(name), Type: scalar(get(it.node, "type")),
				Default: get(it.node, "default"), Node: it.node,
			})
		}
	case yaml.MappingNode:
		// Old-style template parameters: name: default.
		for _, kv := range pairs(n, 0) {
			b.p.Parameters = append(b.p.Parameters, &Parameter{
				Name: kv.key.Value, NamePos: b.doc.Pos(kv.key), Default: resolve(kv.value), Node: kv.value,
			})
		}
	}
}

func (b *builder) variables(n *yaml.Node, scope Scope, st *Stage, job *Job, cond bool) []*Variable {
	var out []*Variable
	add := func(v *Variable) {
		v.Scope, v.Stage, v.Job = scope, st, job
		out = append(out, v)
		b.p.AllVariables = append(b.p.AllVariables, v)
	}
	switch n.Kind {
	case yaml.MappingNode:
		for _, kv := range pairs(n, 0) {
			val := resolve(kv.value)
			add(&Variable{
				Name: kv.key.Value, NamePos: b.doc.Pos(kv.key), Value: scalar(val), ValuePos: b.doc.Pos(val),
				ValueNode: val, Conditional: cond || kv.cond, Pos: b.doc.Pos(kv.key),
			})
		}
	case yaml.SequenceNode:
		for _, it := range items(n, 0) {
			m := it.node
			if m.Kind != yaml.MappingNode {
				continue
			}
			v := &Variable{Conditional: cond || it.cond, Pos: b.doc.Pos(m)}
			switch {
			case get(m, "name") != nil:
				name := get(m, "name")
				val := get(m, "value")
				v.Name, v.NamePos = scalar(name), b.doc.Pos(name)
				v.Value, v.ValuePos, v.ValueNode = scalar(val), b.doc.Pos(val), val
				v.Readonly = scalar(get(m, "readonly")) == "true"
			case get(m, "group") != nil:
				g := get(m, "group")
				v.Group, v.NamePos = scalar(g), b.doc.Pos(g)
			case get(m, "template") != nil:
				v.Template = b.templateRef(m)
			default:
				continue
			}
			add(v)
		}
	}
	return out
}

func (b *builder) stages(n *yaml.Node) []*Stage {
	var out []*Stage
	for _, it := range items(n, 0) {
		m := it.node
		if m.Kind != yaml.MappingNode {
			continue
		}
		st := &Stage{Pos: b.doc.Pos(m), Node: m}
		if s := get(m, "stage"); s != nil {
			st.Name = scalar(s)
		} else if t := b.templateRef(m); t != nil {
			st.Template = t
		}
		for _, kv := range pairs(m, 0) {
			v := resolve(kv.value)
			switch kv.key.Value {
			case "variables":
				st.Variables = append(st.Variables, b.variables(v, ScopeStage, st, nil, it.cond || kv.cond)...)
			case "jobs":
				st.Jobs = append(st.Jobs, b.jobs(v, st)...)
			}
		}
		out = append(out, st)
		if st.Template != nil {
			var f found
			b.scanParams(st.Template.Parameters, st, nil, 0, &f)
			out = append(out, f.stages...)
			st.Jobs = append(st.Jobs, f.jobs...)
		}
	}
	return out
}

func (b *builder) jobs(n *yaml.Node, st *Stage) []*Job {
	var out []*Job
	for _, it := range items(n, 0) {
		m := it.node
		if m.Kind != yaml.MappingNode {
			continue
		}
		job := &Job{Pos: b.doc.Pos(m), Node: m, Stage: st}
		switch {
		case get(m, "job") != nil:
			job.Kind, job.Name = "job", scalar(get(m, "job"))
		case get(m, "deployment") != nil:
			job.Kind, job.Name = "deployment", scalar(get(m, "deployment"))
			env := get(m, "environment")
			job.Environment = scalar(env)
			if env != nil && env.Kind == yaml.MappingNode {
				job.Environment = scalar(get(env, "name"))
			}
		case get(m, "template") != nil:
			job.Kind, job.Template = "template", b.templateRef(m)
		default:
			continue
		}
		b.p.AllJobs = append(b.p.AllJobs, job)
		for _, kv := range pairs(m, 0) {
			v := resolve(kv.value)
			switch kv.key.Value {
			case "variables":
				job.Variables = append(job.Variables, b.variables(v, ScopeJob, st, job, it.cond || kv.cond)...)
			case "steps":
				job.Steps = append(job.Steps, b.steps(v, job, st, "")...)
			case "strategy":
				b.strategy(v, job, st)
			}
		}
		out = append(out, job)
		if job.Template != nil {
			var f found
			b.scanParams(job.Template.Parameters, st, job, 0, &f)
			out = append(out, f.jobs...)
			job.Steps = append(job.Steps, f.steps...)
		}
	}
	return out
}

// strategy collects the lifecycle hook steps of a deployment job.
func (b *builder) strategy(n *yaml.Node, job *Job, st *Stage) {
	for _, skv := range pairs(n, 0) {
		name := skv.key.Value
		if name != "runOnce" && name != "rolling" && name != "canary" {
			continue
		}
		job.Strategy = name
		s := resolve(skv.value)
		for _, h := range []string{"preDeploy", "deploy", "routeTraffic", "postRouteTraffic"} {
			if hn := get(s, h); hn != nil {
				job.Steps = append(job.Steps, b.steps(get(hn, "steps"), job, st, h)...)
			}
		}
		if on := get(s, "on"); on != nil {
			for _, h := range []string{"failure", "success"} {
				if hn := get(on, h); hn != nil {
					job.Steps = append(job.Steps, b.steps(get(hn, "steps"), job, st, "on."+h)...)
				}
			}
		}
	}
}

// stepKind maps the key that introduces a step to its kind.
func stepKind(key string) (StepKind, bool) {
	switch key {
	case "task":
		return StepTask, true
	case "script":
		return StepScript, true
	case "bash":
		return StepBash, true
	case "pwsh":
		return StepPwsh, true
	case "powershell":
		return StepPowerShell, true
	case "checkout":
		return StepCheckout, true
	case "download":
		return StepDownload, true
	case "template":
		return StepTemplate, true
	case "downloadBuild", "getPackage", "publish", "reviewApp":
		return StepOther, true
	}
	return StepUnknown, false
}

func (b *builder) steps(n *yaml.Node, job *Job, st *Stage, hook string) []*Step {
	if n == nil {
		return nil
	}
	var out []*Step
	for _, it := range items(n, 0) {
		m := it.node
		if m.Kind != yaml.MappingNode {
			continue
		}
		s := &Step{Hook: hook, Conditional: it.cond, Job: job, Stage: st, Pos: b.doc.Pos(m), Node: m}
		for _, kv := range pairs(m, 0) {
			key := kv.key.Value
			v := resolve(kv.value)
			if kind, ok := stepKind(key); ok && s.Kind == StepUnknown {
				s.Kind, s.Keyword = kind, key
				switch {
				case kind == StepTask:
					s.Task, s.TaskVersion, _ = strings.Cut(scalar(v), "@")
					s.TaskPos = b.doc.Pos(v)
				case kind.IsScript():
					s.Script, s.ScriptNode = scalar(v), v
				case kind == StepTemplate:
					s.Template = b.templateRef(m)
				}
				continue
			}
			switch key {
			case "displayName":
				s.DisplayName = scalar(v)
			case "inputs":
				s.Inputs = b.keyValues(v)
			case "env":
				s.Env = b.keyValues(v)
			}
		}
		if s.Kind == StepUnknown {
			continue
		}
		out = append(out, s)
		b.p.AllSteps = append(b.p.AllSteps, s)
		if s.Template != nil {
			var f found
			b.scanParams(s.Template.Parameters, st, job, 0, &f)
			out = append(out, f.steps...)
		}
	}
	return out
}

func (b *builder) keyValues(n *yaml.Node) []*KeyValue {
	ps := pairs(n, 0)
	out := make([]*KeyValue, 0, len(ps))
	for _, kv := range ps {
		v := resolve(kv.value)
		out = append(out, &KeyValue{Key: kv.key.Value, KeyPos: b.doc.Pos(kv.key), Value: scalar(v), ValuePos: b.doc.Pos(v), Node: v})
	}
	return out
}

// found collects stages, jobs and steps discovered in template parameters.
type found struct {
	stages []*Stage
	jobs   []*Job
	steps  []*Step
}

// scanParams looks through template parameters for embedded stage, job
// and step lists (extends templates and "stepList" parameters) so that
// their tasks and variables are checked too.
func (b *builder) scanParams(n *yaml.Node, st *Stage, job *Job, depth int, out *found) {
	n = resolve(n)
	if n == nil || depth > 20 {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for _, kv := range pairs(n, 0) {
			v := resolve(kv.value)
			if v != nil && v.Kind == yaml.SequenceNode {
				switch kv.key.Value {
				case "stages":
					out.stages = append(out.stages, b.stages(v)...)
					continue
				case "jobs":
					out.jobs = append(out.jobs, b.jobs(v, st)...)
					continue
				case "steps", "preSteps", "postSteps", "preBuildSteps", "postBuildSteps":
					out.steps = append(out.steps, b.steps(v, job, st, "")...)
					continue
				}
			}
			b.scanParams(v, st, job, depth+1, out)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			b.scanParams(c, st, job, depth+1, out)
		}
	}
}
