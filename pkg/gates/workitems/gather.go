package workitems

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/stagegate/stagegate/pkg/azdo"
)

// fields are the only fields read: smaller answers, and no field the gate does not judge.
var fields = []string{
	azdo.FieldTitle, azdo.FieldState, azdo.FieldWorkItemType, azdo.FieldTeamProject, azdo.FieldAreaPath,
	azdo.FieldTags, azdo.FieldCreatedDate, azdo.FieldClosedDate, azdo.FieldSeverity,
}

// Facts is what the gate read from Azure DevOps.
type Facts struct {
	// WIQL is the tag query sent (scope project without queryId); "" otherwise.
	WIQL string
	// Queried are the ids the query returned (tag query or saved query); nil when no query ran.
	Queried []int
	// Linked are the ids of the work items linked to the run; nil when not read.
	Linked []int
	// Items are the work items read, in the order of the ids requested.
	Items []azdo.WorkItem
	// States maps a work item type (per project) to its states' categories.
	States map[TypeKey]map[string]string
}

// TypeKey names a work item type in a project, case-insensitively.
type TypeKey struct{ Project, Type string }

func typeKey(project, typ string) TypeKey {
	return TypeKey{strings.ToLower(project), strings.ToLower(typ)}
}

// itemProject is the project a work item lives in, falling back to the queried project.
func itemProject(w *azdo.WorkItem, c *Config) string {
	if p := w.String(azdo.FieldTeamProject); p != "" {
		return p
	}
	return c.Project
}

// Gather reads the facts: 1 WIQL (or saved query) and/or 1 build work item list, then
// ceil(n/200) batch reads, then one states call per work item type among the matching items.
func Gather(ctx context.Context, r Reader, c *Config) (*Facts, error) {
	f := &Facts{States: map[TypeKey]map[string]string{}}
	var err error
	switch {
	case c.QueryID != "":
		if f.Queried, err = r.QueryByID(ctx, c.Project, c.QueryID); err != nil {
			return nil, fmt.Errorf("run the saved query %q (input queryId) in project %q: %w", c.QueryID, c.Project, err)
		}
		if f.Queried == nil {
			f.Queried = []int{}
		}
	case c.Scope == ScopeProject:
		f.WIQL = BuildWIQL(c)
		if f.Queried, err = r.QueryWIQL(ctx, c.Project, f.WIQL); err != nil {
			return nil, fmt.Errorf("query the work items of project %q: %w", c.Project, err)
		}
		if f.Queried == nil {
			f.Queried = []int{}
		}
	}
	if c.needsRun() {
		if f.Linked, err = r.GetBuildWorkItemIDs(ctx, c.BuildProject, c.BuildID); err != nil {
			return nil, fmt.Errorf("read the work items linked to this run (build %d): %w", c.BuildID, err)
		}
		if f.Linked == nil {
			f.Linked = []int{}
		}
	}
	ids := idsToRead(c, f)
	if len(ids) > 0 {
		if f.Items, err = readItems(ctx, r, c.Project, ids); err != nil {
			return nil, fmt.Errorf("read %d work items: %w", len(ids), err)
		}
	}
	m := newMatcher(c, f)
	var keys []TypeKey
	names := map[TypeKey][2]string{}
	for i := range f.Items {
		w := &f.Items[i]
		if !m.matches(w) {
			continue
		}
		k := typeKey(itemProject(w, c), w.Type())
		if _, seen := names[k]; !seen {
			names[k] = [2]string{itemProject(w, c), w.Type()}
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Project != keys[j].Project {
			return keys[i].Project < keys[j].Project
		}
		return keys[i].Type < keys[j].Type
	})
	for _, k := range keys {
		n := names[k]
		if n[1] == "" {
			continue // no type: judged as open in memory, with a note
		}
		states, err := r.GetWorkItemTypeStates(ctx, n[0], n[1])
		if err != nil {
			return nil, fmt.Errorf("read the states of work item type %q in project %q: %w", n[1], n[0], err)
		}
		cats := make(map[string]string, len(states))
		for _, s := range states {
			cats[strings.ToLower(s.Name)] = s.Category
		}
		f.States[k] = cats
	}
	return f, nil
}

// Batch reads: the service's limit per call, and how many run at once. A few in parallel cut
// the wall time of large projects several-fold without changing the number of requests (the
// rate limit counts work, not concurrency).
const (
	batchSize     = 200
	parallelReads = 4
)

// readItems reads ids in batches of 200, up to parallelReads at once, and returns the items in
// the order of ids. The first failure cancels the other reads.
func readItems(ctx context.Context, r Reader, project string, ids []int) ([]azdo.WorkItem, error) {
	n := (len(ids) + batchSize - 1) / batchSize
	if n <= 1 {
		return r.GetWorkItems(ctx, project, ids, fields)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([][]azdo.WorkItem, n)
	errs := make([]error, n)
	sem := make(chan struct{}, parallelReads)
	var wg sync.WaitGroup
	for i := range n {
		chunk := ids[i*batchSize : min((i+1)*batchSize, len(ids))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			results[i], errs[i] = r.GetWorkItems(ctx, project, chunk, fields)
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// Report the failure that caused the cancellation, not a read it canceled.
	var first error
	for _, err := range errs {
		if err != nil && first == nil {
			first = err
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	if first != nil {
		return nil, first
	}
	total := 0
	for _, items := range results {
		total += len(items)
	}
	out := make([]azdo.WorkItem, 0, total)
	for _, items := range results {
		out = append(out, items...)
	}
	return out, nil
}

// idsToRead decides which items to read. Scope project reads the query's items, plus (when
// review tags are checked without a saved query) the run's items the query did not return: a
// run-linked item closed long ago must still carry the review tag. Scope run reads the run's
// items, narrowed to the saved query's when one is given.
func idsToRead(c *Config, f *Facts) []int {
	seen := map[int]bool{}
	var out []int
	add := func(ids []int, keep func(int) bool) {
		for _, id := range ids {
			if !seen[id] && (keep == nil || keep(id)) {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	if c.Scope == ScopeRun {
		if c.QueryID != "" {
			q := set(f.Queried)
			add(f.Linked, func(id int) bool { return q[id] })
		} else {
			add(f.Linked, nil)
		}
		return out
	}
	add(f.Queried, nil)
	if c.ReviewTag != "" && c.QueryID == "" {
		add(f.Linked, nil)
	}
	return out
}

func set(ids []int) map[int]bool {
	m := make(map[int]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// matcher decides which items the gate judges. Tags are re-checked in memory as whole tags,
// case-insensitively, whatever the query's CONTAINS did.
type matcher struct {
	c       *Config
	queried map[int]bool
	linked  map[int]bool
}

func newMatcher(c *Config, f *Facts) *matcher {
	return &matcher{c: c, queried: set(f.Queried), linked: set(f.Linked)}
}

func (m *matcher) matches(w *azdo.WorkItem) bool {
	c := m.c
	if c.Scope == ScopeRun && !m.linked[w.ID] {
		return false
	}
	if c.QueryID != "" {
		// The saved query decides what matches: tags, types and area are ignored.
		return m.queried[w.ID]
	}
	if c.Scope == ScopeProject && !strings.EqualFold(itemProject(w, c), c.Project) {
		return false
	}
	if !hasAnyTag(w, c.Tags) {
		return false
	}
	if len(c.Types) > 0 && !containsFold(c.Types, w.Type()) {
		return false
	}
	return c.AreaPath == "" || under(w.AreaPath(), c.AreaPath)
}

func hasAnyTag(w *azdo.WorkItem, tags []string) bool {
	for _, t := range tags {
		if w.HasTag(t) {
			return true
		}
	}
	return false
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(strings.TrimSpace(s), v) {
			return true
		}
	}
	return false
}

// under reports whether path is area (or below it), the way WIQL's UNDER does.
func under(path, area string) bool {
	path = strings.ToLower(strings.TrimRight(path, `\`))
	area = strings.ToLower(area)
	return path == area || strings.HasPrefix(path, area+`\`)
}
