package repofetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"

	"github.com/stagegate/stagegate/pkg/azdo"
)

// Source names the files to fetch: a repository of a project at a commit.
type Source struct {
	// OrgURL is the organization URL (https://dev.azure.com/contoso).
	OrgURL     string
	Credential azdo.Credential
	Project    string
	// Repository is the repository id or name.
	Repository string
	// Commit is the full commit id.
	Commit string
}

// Fetcher downloads and unpacks repositories. The zero value works; it is safe for concurrent
// use.
type Fetcher struct {
	// HTTPClient provides the base transport (proxies, TLS, connection reuse). Optional.
	HTTPClient *http.Client
	Limits     Limits
	// MaxAttempts per request, the first included. Default 4.
	MaxAttempts int
	// AttemptTimeout bounds one attempt, the download included. Default 2 minutes.
	AttemptTimeout time.Duration
	// Sleep waits between attempts; tests inject a fake. Default: a timer that stops with ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// TempDir holds the downloaded archive while it is unpacked. Default os.TempDir().
	TempDir string
	// OnRetry is called once per retried attempt (metrics). Optional.
	OnRetry func()
}

var commitRe = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// Fetch downloads the repository's files at src.Commit into dir (which must exist): one GET of
// the git items API for the whole tree as a zip, after the client library's location discovery.
func (f *Fetcher) Fetch(ctx context.Context, src Source, dir string) (Stats, error) {
	lim := f.Limits.withDefaults()
	if src.Credential == nil {
		return Stats{}, errors.New("fetch the repository: no Azure DevOps credential")
	}
	if strings.TrimSpace(src.Repository) == "" {
		return Stats{}, errors.New("fetch the repository: no repository given (the request's \"repository\")")
	}
	if !commitRe.MatchString(src.Commit) {
		return Stats{}, fmt.Errorf("fetch the repository: commit %q is not a full 40-character commit id (the request's \"commit\")", printable(src.Commit))
	}
	orgURL, host, err := parseOrg(src.OrgURL)
	if err != nil {
		return Stats{}, err
	}
	tr := f.transport(src.Credential, host)
	hc := &http.Client{
		Transport: tr,
		// A redirect means a sign-in page or a wrong URL; following it could carry the token away.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	conn := azuredevops.NewAnonymousConnection(orgURL)
	conn.UserAgent = "stagegate-serve"
	lib := azuredevops.NewClientWithOptions(conn, orgURL, azuredevops.WithHTTPClient(hc))
	client := &git.ClientImpl{Client: *lib}

	full := git.VersionControlRecursionTypeValues.Full
	commit := git.GitVersionTypeValues.Commit
	root := "/"
	args := git.GetItemZipArgs{
		RepositoryId:      &src.Repository,
		Path:              &root,
		RecursionLevel:    &full,
		VersionDescriptor: &git.GitVersionDescriptor{Version: &src.Commit, VersionType: &commit},
	}
	if src.Project != "" {
		args.Project = &src.Project
	}
	body, err := client.GetItemZip(ctx, args)
	if err != nil {
		return Stats{}, describe(err, tr.status(), src)
	}
	defer body.Close()

	tmp, err := os.CreateTemp(f.TempDir, "stagegate-repo-*.zip")
	if err != nil {
		return Stats{}, fmt.Errorf("fetch the repository: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	n, err := io.Copy(tmp, io.LimitReader(body, lim.MaxArchiveBytes+1))
	if err != nil {
		return Stats{}, fmt.Errorf("download repository %q at %s: %w", src.Repository, src.Commit, err)
	}
	if n > lim.MaxArchiveBytes {
		return Stats{}, fmt.Errorf("the archive of repository %q at %s is larger than the limit of %d bytes: %w", src.Repository, src.Commit, lim.MaxArchiveBytes, ErrLimit)
	}
	st, err := Extract(tmp, n, dir, lim)
	st.ArchiveBytes = n
	if err != nil {
		return st, fmt.Errorf("repository %q at %s: %w", src.Repository, src.Commit, err)
	}
	return st, nil
}

func parseOrg(raw string) (orgURL, host string, err error) {
	u, perr := url.Parse(strings.TrimSpace(raw))
	if perr != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return "", "", fmt.Errorf("fetch the repository: %q is not an organization URL", printable(raw))
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), u.Host, nil
}

// describe turns a client error into a sentence that names the status and what to do.
func describe(err error, status int, src Source) error {
	var we *azuredevops.WrappedError
	var wv azuredevops.WrappedError
	switch {
	case errors.As(err, &we) && we.StatusCode != nil:
		status = *we.StatusCode
	case errors.As(err, &wv) && wv.StatusCode != nil:
		status = *wv.StatusCode
	}
	what := fmt.Sprintf("download repository %q at commit %s", src.Repository, src.Commit)
	who := src.Credential.Source()
	switch {
	case status == http.StatusUnauthorized:
		return fmt.Errorf("%s: Azure DevOps refused %s (401): check that the token is valid and not expired: %w", what, who, err)
	case status == http.StatusForbidden:
		return fmt.Errorf("%s: %s may not read the repository (403): grant it Code (Read) on the repository: %w", what, who, err)
	case status == http.StatusNotFound:
		return fmt.Errorf("%s: the repository or the commit was not found (404): check the request's project, repository and commit: %w", what, err)
	case status == http.StatusTooManyRequests || status >= 500:
		return fmt.Errorf("%s: Azure DevOps answered %d after retries: try again later: %w", what, status, err)
	case status != 0:
		return fmt.Errorf("%s: Azure DevOps answered %d: %w", what, status, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
