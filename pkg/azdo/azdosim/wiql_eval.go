package azdosim

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

type fieldKind int

const (
	kString fieldKind = iota
	kInt
	kDouble
	kDate
	kTree
	kTags
	kIdentity
	kBool
)

func (k fieldKind) String() string {
	return [...]string{"string", "integer", "double", "dateTime", "treePath", "tags", "identity", "boolean"}[k]
}

type fieldDef struct {
	ref  string
	name string
	kind fieldKind
}

// builtinFields are the fields of the system and the Agile/Scrum/CMMI
// processes that scenarios and gates use; WIQL may name them by reference
// name or by friendly name.
var builtinFields = []fieldDef{
	{"System.Id", "ID", kInt},
	{"System.Rev", "Rev", kInt},
	{"System.Title", "Title", kString},
	{"System.State", "State", kString},
	{"System.Reason", "Reason", kString},
	{"System.WorkItemType", "Work Item Type", kString},
	{"System.TeamProject", "Team Project", kString},
	{"System.AreaPath", "Area Path", kTree},
	{"System.IterationPath", "Iteration Path", kTree},
	{"System.Tags", "Tags", kTags},
	{"System.CreatedDate", "Created Date", kDate},
	{"System.ChangedDate", "Changed Date", kDate},
	{"System.CreatedBy", "Created By", kIdentity},
	{"System.ChangedBy", "Changed By", kIdentity},
	{"System.AssignedTo", "Assigned To", kIdentity},
	{"System.Description", "Description", kString},
	{"System.BoardColumn", "Board Column", kString},
	{"Microsoft.VSTS.Common.Severity", "Severity", kString},
	{"Microsoft.VSTS.Common.Priority", "Priority", kInt},
	{"Microsoft.VSTS.Common.ValueArea", "Value Area", kString},
	{"Microsoft.VSTS.Common.ClosedDate", "Closed Date", kDate},
	{"Microsoft.VSTS.Common.ResolvedDate", "Resolved Date", kDate},
	{"Microsoft.VSTS.Common.ActivatedDate", "Activated Date", kDate},
	{"Microsoft.VSTS.Common.StateChangeDate", "State Change Date", kDate},
	{"Microsoft.VSTS.Scheduling.TargetDate", "Target Date", kDate},
	{"Microsoft.VSTS.Scheduling.DueDate", "Due Date", kDate},
	{"Microsoft.VSTS.Scheduling.RemainingWork", "Remaining Work", kDouble},
	{"Microsoft.VSTS.Scheduling.Effort", "Effort", kDouble},
	{"Microsoft.VSTS.Scheduling.StoryPoints", "Story Points", kDouble},
}

type fieldRegistry struct {
	byKey map[string]*fieldDef // lower-case reference name and friendly name
}

func newFieldRegistry(items []*simItem) *fieldRegistry {
	r := &fieldRegistry{byKey: map[string]*fieldDef{}}
	for i := range builtinFields {
		f := builtinFields[i]
		r.add(&f)
	}
	// Custom fields are typed by their first value, the way a process
	// defines a field once for the whole organization.
	for _, it := range items {
		for _, ref := range sortedKeys(it.fields) {
			if _, ok := r.byKey[strings.ToLower(ref)]; ok {
				continue
			}
			name := ref
			if i := strings.LastIndexByte(ref, '.'); i >= 0 && i < len(ref)-1 {
				name = ref[i+1:]
			}
			r.add(&fieldDef{ref: ref, name: name, kind: inferKind(it.fields[ref])})
		}
	}
	return r
}

func (r *fieldRegistry) add(f *fieldDef) {
	r.byKey[strings.ToLower(f.ref)] = f
	if _, taken := r.byKey[strings.ToLower(f.name)]; !taken {
		r.byKey[strings.ToLower(f.name)] = f
	}
}

func (r *fieldRegistry) lookup(name string) (*fieldDef, error) {
	if f, ok := r.byKey[strings.ToLower(strings.TrimSpace(name))]; ok {
		return f, nil
	}
	return nil, &wiqlError{code: "TF51005", msg: fmt.Sprintf("The query references a field that does not exist. The error is caused by «%s».", name)}
}

func inferKind(v any) fieldKind {
	switch x := v.(type) {
	case float64, int:
		return kDouble
	case bool:
		return kBool
	case map[string]any:
		return kIdentity
	case string:
		if _, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return kDate
		}
	}
	return kString
}

// evalEnv is what a query is evaluated against.
type evalEnv struct {
	project string // "" when the query was not run in a project context
	now     time.Time
	precise bool // timePrecision=true: compare dates with their time
}

// key is a comparable field value: a number (numbers, dates) or a
// lower-cased string.
type key struct {
	num   float64
	str   string
	isNum bool
}

func (a key) compare(b key) int {
	if a.isNum {
		switch {
		case a.num < b.num:
			return -1
		case a.num > b.num:
			return 1
		}
		return 0
	}
	return strings.Compare(a.str, b.str)
}

type predicate func(it *simItem) bool

type boundQuery struct {
	columns []*fieldDef
	where   predicate
	order   []boundOrder
}

type boundOrder struct {
	def  *fieldDef
	desc bool
}

func bindQuery(q *wiqlQuery, reg *fieldRegistry, env evalEnv) (*boundQuery, error) {
	b := &boundQuery{}
	for _, c := range q.columns {
		f, err := reg.lookup(c)
		if err != nil {
			return nil, err
		}
		b.columns = append(b.columns, f)
	}
	if q.where != nil {
		w, err := bindExpr(q.where, reg, env)
		if err != nil {
			return nil, err
		}
		b.where = w
	}
	for _, o := range q.orderBy {
		f, err := reg.lookup(o.field)
		if err != nil {
			return nil, err
		}
		if f.kind == kTags {
			return nil, &wiqlError{msg: "Tags cannot be used in ORDER BY."}
		}
		b.order = append(b.order, boundOrder{f, o.desc})
	}
	return b, nil
}

func bindExpr(e wexpr, reg *fieldRegistry, env evalEnv) (predicate, error) {
	switch n := e.(type) {
	case andNode:
		l, err := bindExpr(n.l, reg, env)
		if err != nil {
			return nil, err
		}
		r, err := bindExpr(n.r, reg, env)
		if err != nil {
			return nil, err
		}
		return func(it *simItem) bool { return l(it) && r(it) }, nil
	case orNode:
		l, err := bindExpr(n.l, reg, env)
		if err != nil {
			return nil, err
		}
		r, err := bindExpr(n.r, reg, env)
		if err != nil {
			return nil, err
		}
		return func(it *simItem) bool { return l(it) || r(it) }, nil
	case notNode:
		inner, err := bindExpr(n.e, reg, env)
		if err != nil {
			return nil, err
		}
		return func(it *simItem) bool { return !inner(it) }, nil
	case predNode:
		return bindPredicate(n, reg, env)
	}
	return nil, &wiqlError{msg: "internal: unknown expression"}
}

func opError(def *fieldDef, op string) error {
	return &wiqlError{code: "TF51010", msg: fmt.Sprintf("The operator %s cannot be used with the field «%s» (%s).", strings.ToUpper(op), def.ref, def.kind)}
}

// allowedOps lists the operators the service accepts per field type.
var allowedOps = map[fieldKind]string{
	kString:   " = <> < > <= >= in contains containswords ",
	kIdentity: " = <> in contains ",
	kInt:      " = <> < > <= >= in ",
	kDouble:   " = <> < > <= >= in ",
	kDate:     " = <> < > <= >= in ",
	kTree:     " = <> in under ",
	kTags:     " contains = <> ",
	kBool:     " = <> ",
}

func bindPredicate(n predNode, reg *fieldRegistry, env evalEnv) (predicate, error) {
	def, err := reg.lookup(n.field)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(allowedOps[def.kind], " "+n.op+" ") {
		return nil, opError(def, n.op)
	}
	// Field-to-field comparison: [A] op [B].
	if len(n.values) == 1 && n.values[0].kind == litField {
		other, err := reg.lookup(n.values[0].text)
		if err != nil {
			return nil, err
		}
		if comparableClass(other.kind) != comparableClass(def.kind) || def.kind == kTags {
			return nil, &wiqlError{code: "TF51010", msg: fmt.Sprintf("The fields «%s» and «%s» cannot be compared.", def.ref, other.ref)}
		}
		cmp := cmpFunc(n.op)
		return func(it *simItem) bool {
			a, okA := itemKey(it, def, env)
			b, okB := itemKey(it, other, env)
			return okA && okB && cmp(a.compare(b))
		}, nil
	}
	// Resolve literals into keys for this field's type.
	keys := make([]key, 0, len(n.values))
	empty := false
	for _, lit := range n.values {
		k, isEmpty, err := literalKey(lit, def, env)
		if err != nil {
			return nil, err
		}
		if isEmpty {
			if n.op != "=" && n.op != "<>" {
				return nil, &wiqlError{code: "TF51010", msg: fmt.Sprintf("An empty value can only be compared with = or <> (field «%s»).", def.ref)}
			}
			empty = true
			continue
		}
		keys = append(keys, k)
	}
	var p predicate
	switch {
	case empty:
		p = func(it *simItem) bool { return !present(it, def) }
		if n.op == "<>" {
			return func(it *simItem) bool { return present(it, def) }, nil
		}
		return p, nil
	case def.kind == kTags:
		want := keys[0].str
		p = func(it *simItem) bool {
			for _, t := range it.tags() {
				if t == want {
					return true
				}
			}
			return false
		}
		if n.op != "contains" {
			return nil, opError(def, n.op)
		}
	case def.kind == kIdentity:
		p = identityPredicate(def, n.op, keys)
	case n.op == "in":
		p = func(it *simItem) bool {
			v, ok := itemKey(it, def, env)
			if !ok {
				return false
			}
			for _, k := range keys {
				if v.compare(k) == 0 {
					return true
				}
			}
			return false
		}
	case n.op == "contains":
		want := keys[0].str
		p = func(it *simItem) bool {
			v, ok := itemKey(it, def, env)
			return ok && strings.Contains(v.str, want)
		}
	case n.op == "containswords":
		want := keys[0].str
		p = func(it *simItem) bool {
			v, ok := itemKey(it, def, env)
			return ok && containsWords(v.str, want)
		}
	case n.op == "under":
		want := keys[0].str
		p = func(it *simItem) bool {
			v, ok := itemKey(it, def, env)
			return ok && (v.str == want || strings.HasPrefix(v.str, want+`\`))
		}
	case n.op == "<>":
		want := keys[0]
		// A missing value differs from any non-empty value.
		return func(it *simItem) bool {
			v, ok := itemKey(it, def, env)
			return !ok || v.compare(want) != 0
		}, nil
	default:
		want := keys[0]
		cmp := cmpFunc(n.op)
		p = func(it *simItem) bool {
			v, ok := itemKey(it, def, env)
			return ok && cmp(v.compare(want))
		}
	}
	if n.negate {
		inner := p
		return func(it *simItem) bool { return !inner(it) }, nil
	}
	return p, nil
}

func comparableClass(k fieldKind) int {
	switch k {
	case kInt, kDouble:
		return 1
	case kDate:
		return 2
	case kBool:
		return 3
	}
	return 0
}

func cmpFunc(op string) func(int) bool {
	switch op {
	case "=":
		return func(c int) bool { return c == 0 }
	case "<>":
		return func(c int) bool { return c != 0 }
	case "<":
		return func(c int) bool { return c < 0 }
	case ">":
		return func(c int) bool { return c > 0 }
	case "<=":
		return func(c int) bool { return c <= 0 }
	default: // ">="
		return func(c int) bool { return c >= 0 }
	}
}

func identityPredicate(def *fieldDef, op string, keys []key) predicate {
	match := func(it *simItem, want string) bool {
		for _, cand := range identityNames(it.fields[def.ref]) {
			if op == "contains" && strings.Contains(cand, want) || op != "contains" && cand == want {
				return true
			}
		}
		return false
	}
	return func(it *simItem) bool {
		found := false
		for _, k := range keys {
			if match(it, k.str) {
				found = true
				break
			}
		}
		if op == "<>" {
			return !found
		}
		return found
	}
}

// identityNames returns the lower-cased ways WIQL can name an identity:
// display name, unique name and "Display Name <unique name>".
func identityNames(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{strings.ToLower(x)}
	case map[string]any:
		dn, _ := x["displayName"].(string)
		un, _ := x["uniqueName"].(string)
		out := []string{strings.ToLower(dn)}
		if un != "" {
			out = append(out, strings.ToLower(un), strings.ToLower(dn+" <"+un+">"))
		}
		return out
	}
	return nil
}

func containsWords(s, words string) bool {
	from := 0
	for {
		i := strings.Index(s[from:], words)
		if i < 0 {
			return false
		}
		start := from + i
		end := start + len(words)
		if (start == 0 || !isWordChar(s[start-1])) && (end == len(s) || !isWordChar(s[end])) {
			return true
		}
		from = start + 1
	}
}

func isWordChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80
}

func present(it *simItem, def *fieldDef) bool {
	v, ok := it.fields[def.ref]
	if !ok || v == nil {
		return false
	}
	if s, isStr := v.(string); isStr {
		return strings.TrimSpace(s) != ""
	}
	return true
}

// literalKey converts a literal to a key of the field's type. isEmpty
// reports the ” literal, which means "empty or missing".
func literalKey(lit literal, def *fieldDef, env evalEnv) (key, bool, error) {
	text := lit.text
	switch lit.kind {
	case litMacro:
		switch lit.text {
		case "@project":
			if lit.offset != 0 {
				return key{}, false, &wiqlError{msg: "@project does not take an offset."}
			}
			if env.project == "" {
				return key{}, false, &wiqlError{code: "TF51011", msg: "The query uses @project but was not run in the context of a project: call the project-scoped endpoint."}
			}
			if def.kind != kString {
				return key{}, false, &wiqlError{msg: fmt.Sprintf("@project cannot be compared with «%s».", def.ref)}
			}
			return key{str: strings.ToLower(env.project)}, false, nil
		case "@today":
			if def.kind != kDate {
				return key{}, false, &wiqlError{code: "TF51010", msg: fmt.Sprintf("@Today can only be used with date fields, not «%s».", def.ref)}
			}
			if lit.offset != math.Trunc(lit.offset) {
				return key{}, false, &wiqlError{msg: "The @Today offset must be a whole number of days."}
			}
			day := time.Date(env.now.Year(), env.now.Month(), env.now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(lit.offset))
			return dateKey(day, env), false, nil
		default:
			return key{}, false, &wiqlError{msg: fmt.Sprintf("The macro %s is not simulated by azdosim (supported: @project, @today).", lit.text)}
		}
	case litNumber:
		if def.kind != kInt && def.kind != kDouble {
			if def.kind == kString || def.kind == kTree || def.kind == kTags || def.kind == kIdentity {
				break // a bare number compared with text: use its text
			}
			return key{}, false, &wiqlError{code: "TF51010", msg: fmt.Sprintf("The value %s is not valid for the %s field «%s».", text, def.kind, def.ref)}
		}
	}
	if text == "" {
		return key{}, true, nil
	}
	switch def.kind {
	case kInt, kDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return key{}, false, &wiqlError{code: "TF51010", msg: fmt.Sprintf("The value '%s' is not a number (field «%s»).", text, def.ref)}
		}
		if def.kind == kInt && f != math.Trunc(f) {
			return key{}, false, &wiqlError{code: "TF51010", msg: fmt.Sprintf("The value '%s' is not an integer (field «%s»).", text, def.ref)}
		}
		return key{num: f, isNum: true}, false, nil
	case kDate:
		t, hasTime, err := parseWIQLDate(text)
		if err != nil {
			return key{}, false, &wiqlError{code: "TF51010", msg: fmt.Sprintf("The value '%s' is not a valid date (field «%s»).", text, def.ref)}
		}
		if hasTime && !env.precise {
			return key{}, false, &wiqlError{code: "VS402349", msg: fmt.Sprintf("You cannot supply a time with the date when running a query using date precision. The error is caused by «'%s'».", text)}
		}
		return dateKey(t, env), false, nil
	case kBool:
		switch strings.ToLower(text) {
		case "true":
			return key{num: 1, isNum: true}, false, nil
		case "false":
			return key{num: 0, isNum: true}, false, nil
		}
		return key{}, false, &wiqlError{code: "TF51010", msg: fmt.Sprintf("The value '%s' is not True or False (field «%s»).", text, def.ref)}
	case kTags:
		return key{str: strings.ToLower(strings.TrimSpace(text))}, false, nil
	}
	return key{str: strings.ToLower(text)}, false, nil
}

func parseWIQLDate(s string) (time.Time, bool, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return t, t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0, nil
		}
	}
	for _, layout := range []string{"2006-01-02", "1/2/2006", "01/02/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("not a date: %q", s)
}

// dateKey compares whole days (in UTC) unless the query asked for time
// precision, as WIQL does.
func dateKey(t time.Time, env evalEnv) key {
	t = t.UTC()
	if env.precise {
		return key{num: float64(t.UnixMilli()), isNum: true}
	}
	return key{num: float64(t.Unix() / 86400), isNum: true}
}

// itemKey reads a field as a key; false when the field is missing or empty.
func itemKey(it *simItem, def *fieldDef, env evalEnv) (key, bool) {
	v, ok := it.fields[def.ref]
	if !ok || v == nil {
		return key{}, false
	}
	switch def.kind {
	case kInt, kDouble, kBool:
		switch x := v.(type) {
		case float64:
			return key{num: x, isNum: true}, true
		case int:
			return key{num: float64(x), isNum: true}, true
		case bool:
			if x {
				return key{num: 1, isNum: true}, true
			}
			return key{num: 0, isNum: true}, true
		case string:
			f, err := strconv.ParseFloat(x, 64)
			return key{num: f, isNum: true}, err == nil
		}
		return key{}, false
	case kDate:
		t, ok := it.dates[def.ref]
		if !ok {
			return key{}, false
		}
		return dateKey(t, env), true
	case kIdentity:
		names := identityNames(v)
		if len(names) == 0 || names[0] == "" {
			return key{}, false
		}
		return key{str: names[0]}, true
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		s = fmt.Sprint(x)
	}
	if strings.TrimSpace(s) == "" {
		return key{}, false
	}
	return key{str: strings.ToLower(s)}, true
}

// run evaluates the query over items (sorted by id) and returns matches in
// the requested order (by id when there is no ORDER BY).
func (b *boundQuery) run(items []*simItem, env evalEnv) []*simItem {
	var out []*simItem
	for _, it := range items {
		if b.where == nil || b.where(it) {
			out = append(out, it)
		}
	}
	if len(b.order) > 0 {
		// Sorting uses the stored values: date precision only applies to
		// comparisons with literals. Keys are read once per item.
		sortEnv := env
		sortEnv.precise = true
		type sortable struct {
			it   *simItem
			keys []key
			ok   []bool
		}
		rows := make([]*sortable, len(out))
		for i, it := range out {
			r := &sortable{it: it, keys: make([]key, len(b.order)), ok: make([]bool, len(b.order))}
			for k, o := range b.order {
				r.keys[k], r.ok[k] = itemKey(it, o.def, sortEnv)
			}
			rows[i] = r
		}
		slices.SortStableFunc(rows, func(x, y *sortable) int {
			for k, o := range b.order {
				var cmp int
				switch {
				case !x.ok[k] && !y.ok[k]:
					cmp = 0
				case !x.ok[k]:
					cmp = -1 // empty values sort first, like the service
				case !y.ok[k]:
					cmp = 1
				default:
					cmp = x.keys[k].compare(y.keys[k])
				}
				if o.desc {
					cmp = -cmp
				}
				if cmp != 0 {
					return cmp
				}
			}
			return 0
		})
		for i := range rows {
			out[i] = rows[i].it
		}
	}
	return out
}
