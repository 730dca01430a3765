package azdosim

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RouteItems is the git items API ({project}/_apis/git/repositories/{id}/items), served as a
// zip archive of a commit's files (Repository.Trees), as `stagegate serve` downloads the
// templates of the commit being deployed.
const RouteItems = "items"

// handleItems answers GET .../items?path=/&recursionLevel=Full&versionDescriptor.versionType=commit
// &versionDescriptor.version={sha} with Accept: application/zip (or $format=zip). Entries are
// named by their path relative to the repository root, folders included, like the service's
// archive. JSON item metadata is not simulated: the request is refused rather than answered
// with a shape nobody checked.
func (s *Server) handleItems(w http.ResponseWriter, r *http.Request, m routeMatch) {
	repo, ok := s.findRepo(w, m.project, m.args[0])
	if !ok {
		return
	}
	q := r.URL.Query()
	if !strings.Contains(strings.ToLower(r.Header.Get("Accept")), "application/zip") && !strings.EqualFold(q.Get("$format"), "zip") {
		writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", "azdosim serves the git items API as a zip archive only (Accept: application/zip or $format=zip).")
		return
	}
	if vt := q.Get("versionDescriptor.versionType"); !strings.EqualFold(vt, "commit") {
		writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", fmt.Sprintf("azdosim resolves versionDescriptor.versionType=commit only, not %q.", vt))
		return
	}
	version := q.Get("versionDescriptor.version")
	var files map[string]string
	found := false
	for sha, tree := range repo.r.Trees {
		if version != "" && strings.EqualFold(sha, version) {
			files, found = tree, true
			break
		}
	}
	if !found {
		writeError(w, http.StatusNotFound, "GitUnresolvableToCommitException", fmt.Sprintf("TF401175:The version descriptor <Commit: %s> could not be resolved to a version in the repository %s", version, repo.r.Name))
		return
	}
	scope := strings.Trim(q.Get("path"), "/")
	body, err := zipTree(files, scope, s.now())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "GitItemZipException", err.Error())
		return
	}
	if scope != "" && len(body) == 0 {
		writeError(w, http.StatusNotFound, "GitItemNotFoundException", fmt.Sprintf("TF401174: The item '/%s' could not be found in the repository '%s' at the version specified by '<Commit: %s>'.", scope, repo.r.Name, version))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Content-Disposition", "attachment; filename="+repo.r.Name+".zip")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// zipTree writes the files under scope ("" for all) into a zip, folders first, in path order so
// the archive is the same on every call. It returns nil when scope matches nothing.
func zipTree(files map[string]string, scope string, mod time.Time) ([]byte, error) {
	var names []string
	dirs := map[string]bool{}
	for name := range files {
		clean := strings.TrimPrefix(name, "/")
		if scope != "" && clean != scope && !strings.HasPrefix(clean, scope+"/") {
			continue
		}
		names = append(names, name)
		for d := path.Dir(clean); d != "." && d != "/" && d != ""; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	if len(names) == 0 && scope != "" {
		return nil, nil
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, d := range sortedKeys(dirs) {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: d + "/", Method: zip.Store, Modified: mod}); err != nil {
			return nil, fmt.Errorf("azdosim: zip folder %s: %w", d, err)
		}
	}
	for _, name := range names {
		// The scenario's names go into the archive as written, so a test can serve a hostile
		// entry ("../x") to the extractor on the other end.
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: strings.TrimPrefix(name, "/"), Method: zip.Deflate, Modified: mod})
		if err != nil {
			return nil, fmt.Errorf("azdosim: zip %s: %w", name, err)
		}
		if _, err := fw.Write([]byte(files[name])); err != nil {
			return nil, fmt.Errorf("azdosim: zip %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("azdosim: zip: %w", err)
	}
	return buf.Bytes(), nil
}
