package azdosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// maxWIQLResults is the service's cap on WIQL results.
const maxWIQLResults = 20000

// maxBatchIDs is the service's cap on ids per workItemsBatch call.
const maxBatchIDs = 200

// maxBodyBytes bounds request bodies (the service's limit is larger; no
// legitimate simulator call comes near it).
const maxBodyBytes = 4 << 20

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "VssRequestContentException", "The request body could not be read: "+err.Error())
		return false
	}
	if len(data) > maxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "VssRequestContentException", "The request body is too large.")
		return false
	}
	if err := json.Unmarshal(data, v); err != nil {
		writeError(w, http.StatusBadRequest, "VssRequestContentException", "VS403403: The request body is not valid JSON: "+err.Error())
		return false
	}
	return true
}

func writeWIQLError(w http.ResponseWriter, err error) {
	var we *wiqlError
	if errors.As(err, &we) {
		typeKey := "WorkItemTrackingQueryException"
		if we.code == "TF51006" {
			typeKey = "SyntaxException"
		}
		writeError(w, http.StatusBadRequest, typeKey, we.Error())
		return
	}
	writeError(w, http.StatusBadRequest, "WorkItemTrackingQueryException", err.Error())
}

type wiqlResult struct {
	QueryType         string           `json:"queryType"`
	QueryResultType   string           `json:"queryResultType"`
	AsOf              string           `json:"asOf"`
	Columns           []map[string]any `json:"columns"`
	SortColumns       []map[string]any `json:"sortColumns,omitempty"`
	WorkItems         []map[string]any `json:"workItems,omitempty"`
	WorkItemRelations []map[string]any `json:"workItemRelations,omitempty"`
}

// runWIQL evaluates src and writes the flat query result.
func (s *Server) runWIQL(w http.ResponseWriter, r *http.Request, src, project string) {
	q, err := parseWIQL(src)
	if err != nil {
		writeWIQLError(w, err)
		return
	}
	env := evalEnv{project: project, now: s.now().UTC(), precise: strings.EqualFold(r.URL.Query().Get("timePrecision"), "true")}
	bq, err := bindQuery(q, s.fields, env)
	if err != nil {
		writeWIQLError(w, err)
		return
	}
	top := -1
	if t := r.URL.Query().Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", fmt.Sprintf("The value %q of $top is not a non-negative integer.", t))
			return
		}
		top = min(n, maxWIQLResults)
	}
	matches := bq.run(s.sorted, env)
	if top < 0 && len(matches) > maxWIQLResults {
		writeError(w, http.StatusBadRequest, "WorkItemTrackingQueryResultSizeLimitExceededException",
			fmt.Sprintf("VS402337: The number of work items returned exceeds the size limit of %d. Change the query to return fewer items.", maxWIQLResults))
		return
	}
	if top >= 0 && len(matches) > top {
		matches = matches[:top]
	}
	base := s.baseURL(r)
	res := wiqlResult{QueryType: "flat", QueryResultType: "workItem", AsOf: formatTime(env.now), Columns: []map[string]any{}, WorkItems: make([]map[string]any, 0, len(matches))}
	for _, c := range bq.columns {
		res.Columns = append(res.Columns, fieldRef(base, c))
	}
	for _, o := range bq.order {
		res.SortColumns = append(res.SortColumns, map[string]any{"field": fieldRef(base, o.def), "descending": o.desc})
	}
	for _, it := range matches {
		res.WorkItems = append(res.WorkItems, map[string]any{"id": it.id, "url": base + "/_apis/wit/workItems/" + strconv.Itoa(it.id)})
	}
	writeJSON(w, http.StatusOK, res)
}

func fieldRef(base string, f *fieldDef) map[string]any {
	return map[string]any{"referenceName": f.ref, "name": f.name, "url": base + "/_apis/wit/fields/" + f.ref}
}

func (s *Server) handleWIQL(w http.ResponseWriter, r *http.Request, m routeMatch) {
	p, ok := s.project(w, m.project, false)
	if !ok {
		return
	}
	var body struct {
		Query *string `json:"query"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Query == nil {
		writeError(w, http.StatusBadRequest, "ArgumentNullException", "Value cannot be null.\r\nParameter name: wiql")
		return
	}
	project := ""
	if p != nil {
		project = p.p.Name
	}
	s.runWIQL(w, r, *body.Query, project)
}

func (s *Server) findQuery(w http.ResponseWriter, p *simProject, idOrPath string) (*SavedQuery, *simProject, bool) {
	projects := s.projects
	if p != nil {
		projects = []*simProject{p}
	}
	want := strings.Trim(idOrPath, "/")
	for _, sp := range projects {
		for _, q := range sp.queries {
			if strings.EqualFold(q.ID, want) || strings.EqualFold(strings.Trim(q.Path, "/"), want) {
				return q, sp, true
			}
		}
	}
	writeError(w, http.StatusNotFound, "QueryItemNotFoundException", fmt.Sprintf("TF401243: The query %s does not exist, or you do not have permission to read it.", idOrPath))
	return nil, nil, false
}

func (s *Server) handleWIQLByID(w http.ResponseWriter, r *http.Request, m routeMatch) {
	p, ok := s.project(w, m.project, false)
	if !ok {
		return
	}
	if _, err := uuid.Parse(m.args[0]); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", fmt.Sprintf("The query id %q is not a GUID.", m.args[0]))
		return
	}
	q, sp, ok := s.findQuery(w, p, m.args[0])
	if !ok {
		return
	}
	if q.QueryType != "flat" {
		// Link queries are not evaluated: answer with their type so a
		// client can tell them apart, and no relations.
		writeJSON(w, http.StatusOK, wiqlResult{QueryType: q.QueryType, QueryResultType: "workItemLink", AsOf: formatTime(s.now()), Columns: []map[string]any{}, WorkItemRelations: []map[string]any{}})
		return
	}
	s.runWIQL(w, r, q.WIQL, sp.p.Name)
}

func (s *Server) handleQueries(w http.ResponseWriter, r *http.Request, m routeMatch) {
	p, ok := s.project(w, m.project, true)
	if !ok {
		return
	}
	want := strings.Trim(m.args[0], "/")
	expand := strings.ToLower(r.URL.Query().Get("$expand"))
	withWIQL := expand == "wiql" || expand == "all"
	depth, _ := strconv.Atoi(r.URL.Query().Get("$depth"))
	base := s.baseURL(r)
	for _, q := range p.queries {
		if strings.EqualFold(q.ID, want) || strings.EqualFold(strings.Trim(q.Path, "/"), want) {
			writeJSON(w, http.StatusOK, s.queryItem(base, p, q, withWIQL))
			return
		}
	}
	// A folder is any proper prefix of a query path.
	var children []*SavedQuery
	for _, q := range p.queries {
		if strings.HasPrefix(strings.ToLower(strings.Trim(q.Path, "/")), strings.ToLower(want)+"/") {
			children = append(children, q)
		}
	}
	if len(children) == 0 {
		writeError(w, http.StatusNotFound, "QueryItemNotFoundException", fmt.Sprintf("TF401243: The query %s does not exist, or you do not have permission to read it.", m.args[0]))
		return
	}
	path := strings.Trim(children[0].Path, "/")[:len(want)]
	folder := map[string]any{
		"id":          stableID("folder", p.p.Name+"/"+strings.ToLower(path)),
		"name":        path[strings.LastIndexByte(path, '/')+1:],
		"path":        path,
		"isFolder":    true,
		"hasChildren": true,
		"isPublic":    strings.HasPrefix(strings.ToLower(path), "shared queries"),
		"createdDate": formatTime(p.created),
	}
	folder["url"] = base + "/" + p.p.ID + "/_apis/wit/queries/" + folder["id"].(string)
	if depth > 0 {
		var kids []map[string]any
		for _, q := range children {
			if !strings.Contains(strings.Trim(q.Path, "/")[len(path)+1:], "/") {
				kids = append(kids, s.queryItem(base, p, q, withWIQL))
			}
		}
		folder["children"] = kids
	}
	writeJSON(w, http.StatusOK, folder)
}

func (s *Server) queryItem(base string, p *simProject, q *SavedQuery, withWIQL bool) map[string]any {
	path := strings.Trim(q.Path, "/")
	item := map[string]any{
		"id":               q.ID,
		"name":             path[strings.LastIndexByte(path, '/')+1:],
		"path":             path,
		"queryType":        q.QueryType,
		"isPublic":         strings.HasPrefix(strings.ToLower(path), "shared queries"),
		"createdDate":      formatTime(p.created),
		"lastModifiedDate": formatTime(p.created),
		"url":              base + "/" + p.p.ID + "/_apis/wit/queries/" + q.ID,
		"_links": map[string]any{
			"self": map[string]any{"href": base + "/" + p.p.ID + "/_apis/wit/queries/" + q.ID},
			"wiql": map[string]any{"href": base + "/" + p.p.ID + "/_apis/wit/wiql/" + q.ID},
		},
	}
	if withWIQL {
		item["wiql"] = q.WIQL
	}
	return item
}

func (s *Server) handleWorkItemsBatch(w http.ResponseWriter, r *http.Request, m routeMatch) {
	if _, ok := s.project(w, m.project, false); !ok {
		return
	}
	var body struct {
		IDs         []int    `json:"ids"`
		Fields      []string `json:"fields"`
		ErrorPolicy string   `json:"errorPolicy"`
		Expand      string   `json:"$expand"`
		AsOf        string   `json:"asOf"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if len(body.IDs) == 0 {
		writeError(w, http.StatusBadRequest, "VssPropertyValidationException", "VS403473: The ids parameter is required and must contain at least one work item id.")
		return
	}
	if len(body.IDs) > maxBatchIDs {
		writeError(w, http.StatusBadRequest, "VssPropertyValidationException", fmt.Sprintf("VS403474: The maximum number of work items that can be requested is %d; the request asked for %d.", maxBatchIDs, len(body.IDs)))
		return
	}
	if body.AsOf != "" {
		writeError(w, http.StatusBadRequest, "VssPropertyValidationException", "azdosim does not keep work item history: asOf is not simulated.")
		return
	}
	if body.Expand != "" && !strings.EqualFold(body.Expand, "none") && len(body.Fields) > 0 {
		writeError(w, http.StatusBadRequest, "ConflictingParametersException", "VS403437: The expand parameter can not be used with the fields parameter.")
		return
	}
	var refs []string
	for _, f := range body.Fields {
		def, ok := s.fields.byKey[strings.ToLower(f)]
		if !ok || !strings.EqualFold(def.ref, f) {
			writeError(w, http.StatusBadRequest, "WorkItemFieldInvalidException", fmt.Sprintf("TF51535: Cannot find field %s.", f))
			return
		}
		refs = append(refs, def.ref)
	}
	omit := strings.EqualFold(body.ErrorPolicy, "omit")
	base := s.baseURL(r)
	out := make([]any, 0, len(body.IDs))
	for _, id := range body.IDs {
		it, ok := s.items[id]
		if !ok {
			if omit {
				out = append(out, nil)
				continue
			}
			writeError(w, http.StatusNotFound, "WorkItemUnauthorizedAccessException", fmt.Sprintf("TF401232: Work item %d does not exist, or you do not have permissions to read it.", id))
			return
		}
		out = append(out, renderWorkItem(base, it, refs))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "value": out})
}

func renderWorkItem(base string, it *simItem, refs []string) map[string]any {
	fields := map[string]any{}
	if refs == nil {
		for k, v := range it.fields {
			if k == "System.Id" || k == "System.Rev" {
				continue // returned as id and rev, like the service
			}
			fields[k] = v
		}
	} else {
		for _, k := range refs {
			if v, ok := it.fields[k]; ok {
				fields[k] = v
			}
		}
	}
	return map[string]any{
		"id":     it.id,
		"rev":    it.rev,
		"fields": fields,
		"url":    base + "/_apis/wit/workItems/" + strconv.Itoa(it.id),
	}
}

func (s *Server) handleStates(w http.ResponseWriter, r *http.Request, m routeMatch) {
	p, ok := s.project(w, m.project, true)
	if !ok {
		return
	}
	t, ok := p.types[strings.ToLower(m.args[0])]
	if !ok {
		writeError(w, http.StatusNotFound, "WorkItemTypeNotFoundException", fmt.Sprintf("VS402323: Work item type %s does not exist in project %s.", m.args[0], p.p.Name))
		return
	}
	states := make([]map[string]any, 0, len(t.States))
	for _, st := range t.States {
		color := st.Color
		if color == "" {
			color = "b2b2b2"
		}
		states = append(states, map[string]any{"name": st.Name, "color": color, "category": st.Category})
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(states), "value": states})
}

func (s *Server) handleBuildWorkItems(w http.ResponseWriter, r *http.Request, m routeMatch) {
	p, ok := s.project(w, m.project, true)
	if !ok {
		return
	}
	id, err := strconv.Atoi(m.args[0])
	b, found := p.builds[id]
	if err != nil || !found {
		writeError(w, http.StatusNotFound, "BuildNotFoundException", fmt.Sprintf("The requested build %s could not be found.", m.args[0]))
		return
	}
	top := 50
	if t := r.URL.Query().Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", fmt.Sprintf("The value %q of $top is not a non-negative integer.", t))
			return
		}
		top = n
	}
	base := s.baseURL(r)
	refs := make([]map[string]any, 0, len(b.WorkItemIDs))
	for _, wid := range b.WorkItemIDs {
		if len(refs) >= top {
			break
		}
		refs = append(refs, map[string]any{"id": strconv.Itoa(wid), "url": base + "/_apis/wit/workItems/" + strconv.Itoa(wid)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(refs), "value": refs})
}
