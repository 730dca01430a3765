package azdo

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/workitemtracking"
)

// Service limits.
const (
	wiqlResultCap  = 20000 // WIQL results
	wiqlMaxLength  = 32000 // characters in a WIQL statement
	batchSize      = 200   // ids per workItemsBatch call
	buildRefsLimit = 10000 // $top asked of the build work items API
)

// Well-known field reference names.
const (
	FieldID            = "System.Id"
	FieldTitle         = "System.Title"
	FieldState         = "System.State"
	FieldWorkItemType  = "System.WorkItemType"
	FieldTeamProject   = "System.TeamProject"
	FieldAreaPath      = "System.AreaPath"
	FieldTags          = "System.Tags"
	FieldCreatedDate   = "System.CreatedDate"
	FieldChangedDate   = "System.ChangedDate"
	FieldClosedDate    = "Microsoft.VSTS.Common.ClosedDate"
	FieldResolvedDate  = "Microsoft.VSTS.Common.ResolvedDate"
	FieldSeverity      = "Microsoft.VSTS.Common.Severity"
	FieldPriority      = "Microsoft.VSTS.Common.Priority"
	FieldAssignedTo    = "System.AssignedTo"
	FieldIterationPath = "System.IterationPath"
)

// WorkItem is a work item with its fields as the service returned them.
type WorkItem struct {
	ID     int
	Rev    int
	Fields map[string]any
	// URL is the web link {org}/{project}/_workitems/edit/{id}.
	URL string
}

// String returns a field as text ("" when missing); identities give their
// display name.
func (w WorkItem) String(field string) string {
	switch v := w.Fields[field].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case map[string]any:
		if dn, ok := v["displayName"].(string); ok {
			return dn
		}
	}
	return fmt.Sprint(w.Fields[field])
}

// Time returns a date field; false when missing or not a date.
func (w WorkItem) Time(field string) (time.Time, bool) {
	s, ok := w.Fields[field].(string)
	if !ok || s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// Type is System.WorkItemType.
func (w WorkItem) Type() string { return w.String(FieldWorkItemType) }

// Title is System.Title.
func (w WorkItem) Title() string { return w.String(FieldTitle) }

// State is System.State.
func (w WorkItem) State() string { return w.String(FieldState) }

// Severity is Microsoft.VSTS.Common.Severity ("1 - Critical" .. "4 - Low"),
// "" when the item has none.
func (w WorkItem) Severity() string { return w.String(FieldSeverity) }

// AreaPath is System.AreaPath.
func (w WorkItem) AreaPath() string { return w.String(FieldAreaPath) }

// Tags splits System.Tags ("A; B") into trimmed, non-empty tags.
func (w WorkItem) Tags() []string {
	var out []string
	for _, t := range strings.Split(w.String(FieldTags), ";") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// HasTag reports whether the item carries tag (case-insensitive, whole tag).
func (w WorkItem) HasTag(tag string) bool {
	for _, t := range w.Tags() {
		if strings.EqualFold(t, strings.TrimSpace(tag)) {
			return true
		}
	}
	return false
}

// CreatedDate is System.CreatedDate (zero when missing).
func (w WorkItem) CreatedDate() time.Time { t, _ := w.Time(FieldCreatedDate); return t }

// ClosedDate is Microsoft.VSTS.Common.ClosedDate (zero when missing).
func (w WorkItem) ClosedDate() time.Time { t, _ := w.Time(FieldClosedDate); return t }

// State is a work item state with its category: Proposed, InProgress,
// Resolved, Completed or Removed.
type State struct {
	Name     string
	Category string
}

// Query is a saved query (or folder).
type Query struct {
	ID        string
	Path      string
	Name      string
	QueryType string // flat, tree or oneHop; "" for a folder
	WIQL      string
	IsFolder  bool
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (c *Client) checkFlat(cs *callState, sc scope, res *workitemtracking.WorkItemQueryResult, name string) ([]int, error) {
	if res == nil {
		return nil, c.wrap(cs, sc, fmt.Errorf("empty query result"))
	}
	if qt := string(deref(res.QueryType)); qt != "" && qt != string(workitemtracking.QueryTypeValues.Flat) {
		return nil, &Error{Op: cs.op, Kind: KindUnsupported, Target: sc.target(),
			msg: fmt.Sprintf("%s is a %s query; only flat queries (a list of work items) can be used: change the query type to flat", name, qt)}
	}
	refs := deref(res.WorkItems)
	if len(refs) >= wiqlResultCap {
		return nil, &Error{Op: cs.op, Kind: KindResultLimit, Target: sc.target(),
			msg: fmt.Sprintf("%s returned %d work items, the service's limit, so the result may be incomplete: narrow the query (area path, work item types, tags)", name, len(refs))}
	}
	ids := make([]int, 0, len(refs))
	for _, r := range refs {
		if r.Id != nil {
			ids = append(ids, *r.Id)
		}
	}
	return ids, nil
}

// QueryWIQL runs a flat WIQL query in the project's context and returns the
// ids in the query's order. The project only gives @project its value: add
// [System.TeamProject] = @project to scope the query. A result at the
// service's 20,000 cap is an error, never a silently truncated list.
func (c *Client) QueryWIQL(ctx context.Context, project, wiql string) ([]int, error) {
	ctx, cs := c.begin(ctx, "QueryWIQL")
	sc := scope{project: project, perm: permWorkItems}
	if len(wiql) > wiqlMaxLength {
		return nil, c.argError(cs.op, fmt.Sprintf("the WIQL query is %d characters long; Azure DevOps accepts at most %d", len(wiql), wiqlMaxLength))
	}
	args := workitemtracking.QueryByWiqlArgs{Wiql: &workitemtracking.Wiql{Query: &wiql}}
	if project != "" {
		args.Project = &project
	}
	res, err := c.wit.QueryByWiql(ctx, args)
	if err != nil {
		return nil, c.wrap(cs, sc, err)
	}
	return c.checkFlat(cs, sc, res, "the WIQL query")
}

// QueryByID runs a saved flat query, given its id or its path ("Shared
// Queries/Security/Open"). A tree or one-hop query is an error of kind
// KindUnsupported.
func (c *Client) QueryByID(ctx context.Context, project, queryIDOrPath string) ([]int, error) {
	id, err := uuid.Parse(strings.TrimSpace(queryIDOrPath))
	name := "saved query " + quote(queryIDOrPath)
	if err != nil {
		q, err := c.GetQuery(ctx, project, queryIDOrPath)
		if err != nil {
			return nil, relabel(err, "QueryByID")
		}
		if q.IsFolder {
			return nil, &Error{Op: "QueryByID", Kind: KindUnsupported, Target: name, msg: fmt.Sprintf("%s is a folder, not a query", name)}
		}
		if q.QueryType != "flat" {
			return nil, &Error{Op: "QueryByID", Kind: KindUnsupported, Target: name,
				msg: fmt.Sprintf("%s is a %s query; only flat queries (a list of work items) can be used: change the query type to flat", name, q.QueryType)}
		}
		id, err = uuid.Parse(q.ID)
		if err != nil {
			return nil, &Error{Op: "QueryByID", Kind: KindBadResponse, Target: name, msg: fmt.Sprintf("the service returned an invalid id %q for %s", q.ID, name)}
		}
	}
	ctx, cs := c.begin(ctx, "QueryByID")
	sc := scope{project: project, what: name, perm: permQuery}
	args := workitemtracking.QueryByIdArgs{Id: &id}
	if project != "" {
		args.Project = &project
	}
	res, err := c.wit.QueryById(ctx, args)
	if err != nil {
		return nil, c.wrap(cs, sc, err)
	}
	return c.checkFlat(cs, sc, res, name)
}

// GetQuery reads a saved query (with its WIQL) or folder by id or path.
func (c *Client) GetQuery(ctx context.Context, project, idOrPath string) (Query, error) {
	ctx, cs := c.begin(ctx, "GetQuery")
	sc := scope{project: project, what: "saved query " + quote(idOrPath), perm: permQuery}
	if project == "" || strings.TrimSpace(idOrPath) == "" {
		return Query{}, c.argError(cs.op, "a project and a query id or path are required")
	}
	expand := workitemtracking.QueryExpandValues.Wiql
	q, err := c.wit.GetQuery(ctx, workitemtracking.GetQueryArgs{Project: &project, Query: &idOrPath, Expand: &expand})
	if err != nil {
		return Query{}, c.wrap(cs, sc, err)
	}
	out := Query{
		Path:      deref(q.Path),
		Name:      deref(q.Name),
		QueryType: string(deref(q.QueryType)),
		WIQL:      deref(q.Wiql),
		IsFolder:  deref(q.IsFolder),
	}
	if q.Id != nil {
		out.ID = q.Id.String()
	}
	return out, nil
}

// GetWorkItems reads work items in batches of 200 (errorPolicy omit) and
// returns them in the order of ids. Items the service omits (deleted, or
// not visible to the identity) are skipped with a warning. fields nil means
// every field.
func (c *Client) GetWorkItems(ctx context.Context, project string, ids []int, fields []string) ([]WorkItem, error) {
	ctx, cs := c.begin(ctx, "GetWorkItems")
	sc := scope{project: project, perm: permWorkItems}
	out := make([]WorkItem, 0, len(ids))
	var missing []int
	omit := workitemtracking.WorkItemErrorPolicyValues.Omit
	for start := 0; start < len(ids); start += batchSize {
		chunk := ids[start:min(start+batchSize, len(ids))]
		req := workitemtracking.WorkItemBatchGetRequest{Ids: &chunk, ErrorPolicy: &omit}
		if len(fields) > 0 {
			req.Fields = &fields
		}
		args := workitemtracking.GetWorkItemsBatchArgs{WorkItemGetRequest: &req}
		if project != "" {
			args.Project = &project
		}
		items, err := c.wit.GetWorkItemsBatch(ctx, args)
		if err != nil {
			return nil, c.wrap(cs, sc, err)
		}
		got := map[int]workitemtracking.WorkItem{}
		for _, it := range deref(items) {
			if it.Id != nil {
				got[*it.Id] = it
			}
		}
		for _, id := range chunk {
			it, ok := got[id]
			if !ok {
				missing = append(missing, id)
				continue
			}
			out = append(out, c.workItem(project, it))
		}
	}
	if len(missing) > 0 && c.warn != nil {
		sort.Ints(missing)
		c.warn(fmt.Sprintf("%d work item(s) could not be read (deleted, or not visible to the identity) and were skipped: %s", len(missing), joinInts(missing, 20)))
	}
	return out, nil
}

func joinInts(ids []int, limit int) string {
	parts := make([]string, 0, min(len(ids), limit)+1)
	for i, id := range ids {
		if i == limit {
			parts = append(parts, fmt.Sprintf("and %d more", len(ids)-limit))
			break
		}
		parts = append(parts, strconv.Itoa(id))
	}
	return strings.Join(parts, ", ")
}

func (c *Client) workItem(project string, it workitemtracking.WorkItem) WorkItem {
	w := WorkItem{ID: deref(it.Id), Rev: deref(it.Rev), Fields: map[string]any{}}
	for k, v := range deref(it.Fields) {
		w.Fields[k] = v
	}
	p := w.String(FieldTeamProject)
	if p == "" {
		p = project
	}
	w.URL = c.orgURL + "/" + url.PathEscape(p) + "/_workitems/edit/" + strconv.Itoa(w.ID)
	return w
}

// GetWorkItemTypeStates reads the states of a work item type with their
// categories (custom states included).
func (c *Client) GetWorkItemTypeStates(ctx context.Context, project, typeName string) ([]State, error) {
	ctx, cs := c.begin(ctx, "GetWorkItemTypeStates")
	sc := scope{project: project, what: "work item type " + quote(typeName), perm: permWorkItems}
	if project == "" || typeName == "" {
		return nil, c.argError(cs.op, "a project and a work item type are required")
	}
	res, err := c.wit.GetWorkItemTypeStates(ctx, workitemtracking.GetWorkItemTypeStatesArgs{Project: &project, Type: &typeName})
	if err != nil {
		return nil, c.wrap(cs, sc, err)
	}
	out := make([]State, 0, len(deref(res)))
	for _, s := range deref(res) {
		out = append(out, State{Name: deref(s.Name), Category: deref(s.Category)})
	}
	return out, nil
}

// GetBuildWorkItemIDs returns the ids of the work items linked to a run.
func (c *Client) GetBuildWorkItemIDs(ctx context.Context, project string, buildID int) ([]int, error) {
	ctx, cs := c.begin(ctx, "GetBuildWorkItemIDs")
	sc := scope{project: project, what: fmt.Sprintf("build %d", buildID), perm: permBuild}
	if project == "" || buildID <= 0 {
		return nil, c.argError(cs.op, "a project and a positive build id are required")
	}
	top := buildRefsLimit
	refs, err := c.build.GetBuildWorkItemsRefs(ctx, build.GetBuildWorkItemsRefsArgs{Project: &project, BuildId: &buildID, Top: &top})
	if err != nil {
		return nil, c.wrap(cs, sc, err)
	}
	list := deref(refs)
	if len(list) >= top {
		return nil, &Error{Op: cs.op, Kind: KindResultLimit, Target: sc.target(),
			msg: fmt.Sprintf("%s links %d or more work items, more than stagegate reads at once; the list would be incomplete", sc.target(), top)}
	}
	ids := make([]int, 0, len(list))
	for _, r := range list {
		id, err := strconv.Atoi(deref(r.Id))
		if err != nil {
			return nil, &Error{Op: cs.op, Kind: KindBadResponse, Target: sc.target(), msg: fmt.Sprintf("the service returned a work item reference with an invalid id %q", deref(r.Id)), err: err}
		}
		ids = append(ids, id)
	}
	return ids, nil
}
