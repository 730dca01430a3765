// Package verify looks Key Vault references up in Key Vault before a stage deploys them
// (rules KV012-KV014 of the Key Vault reference gate): each referenced secret must exist, be
// enabled, be valid now and not expire soon, and a vault referenced at deployment time must
// allow template deployment.
//
// Least privilege: secrets are read through the "list versions" operation only, which returns
// properties and never values, so the identity needs the List permission (or the Key Vault
// Reader role), never Get. A guard policy in the pipeline refuses any other Key Vault request.
// KV014 reads the vault resource from Resource Manager with a plain GET (no management SDK).
//
// Under load: references are deduplicated by vault, secret and version; lookups run
// concurrently within a bound; the first lookup of each vault runs alone so the challenge
// authentication happens once per vault; throttling (429 with Retry-After) and server errors
// are retried by azcore within the caller's deadline; a vault that refuses or cannot be reached
// stops further lookups against it and fails the verification with the cause.
package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/keyvault/azcred"
)

// CheckName groups verification findings in the report.
const CheckName = "Key Vault verification"

// Rule ids (the gate's catalog describes them).
const (
	KV012 = "KV012"
	KV013 = "KV013"
	KV014 = "KV014"
)

// DefaultConcurrency bounds the lookups in flight. Key Vault allows thousands of requests per
// vault per ten seconds; eight keeps a shared agent and a shared vault comfortable.
const DefaultConcurrency = 8

// ARMAPIVersion is the Microsoft.KeyVault API version used to read a vault resource.
const ARMAPIVersion = "2023-07-01"

// maxPages bounds the version pages read for one secret, against a nextLink that never ends.
const maxPages = 400

// Options configure a Verifier.
type Options struct {
	// Identity is the credential and cloud to use (required).
	Identity *azcred.Identity
	// Now is the time expiry is judged against (time.Now when zero).
	Now time.Time
	// ExpiryWarningDays and RequireExpiry configure KV013.
	ExpiryWarningDays int
	RequireExpiry     bool
	// Concurrency bounds lookups in flight (DefaultConcurrency when 0).
	Concurrency int
	// ClientOptions configure the HTTP pipelines (transport and retries for tests). Unset retry
	// options default to 4 retries, Retry-After honoured up to a minute, 30 s per try.
	ClientOptions azcore.ClientOptions
	// DisableChallengeResourceVerification is for tests that serve a vault from an address
	// that is not a vault host name.
	DisableChallengeResourceVerification bool
}

// State is the outcome for one reference.
type State string

// States.
const (
	StateOK          State = "verified"
	StateUnusable    State = "unusable"     // KV012
	StateWarning     State = "warning"      // KV013
	StateNotVerified State = "not verified" // cannot be looked up statically
)

// Result is the outcome for one distinct secret, or for one reference that could not be
// looked up.
type Result struct {
	Vault   string
	Secret  string
	Version string // as referenced; "" is the current version
	// Checked is the version the verdict is about (the current one when unpinned); Found
	// says it exists.
	Checked  string
	Found    bool
	State    State
	Reason   string
	Expires  *time.Time
	Refs     []keyvault.Reference
	problems []Problem
}

// Stats count what a verification did.
type Stats struct {
	References         int
	Secrets            int // distinct secrets looked up
	NotVerified        int // references that could not be looked up
	Vaults             int
	VaultRequests      int64
	ManagementRequests int64
	Duration           time.Duration
}

// Verifier verifies references. It is used for one run: Verify once, then read Results,
// Stats and Table.
type Verifier struct {
	opt   Options
	who   string
	cloud azcred.Cloud

	vaultRequests atomic.Int64
	mgmtRequests  atomic.Int64

	mu       sync.Mutex
	results  []Result
	stats    Stats
	notes    []string
	findings []finding.Finding
}

// New checks the options and returns a Verifier.
func New(opt Options) (*Verifier, error) {
	if opt.Identity == nil || opt.Identity.Credential == nil {
		return nil, errors.New("verify: no identity: a credential is required to look secrets up")
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = DefaultConcurrency
	}
	r := &opt.ClientOptions.Retry
	if r.MaxRetries == 0 {
		r.MaxRetries = 4
	}
	if r.TryTimeout == 0 {
		r.TryTimeout = 30 * time.Second
	}
	if r.MaxRetryDelay == 0 {
		r.MaxRetryDelay = time.Minute
	}
	return &Verifier{opt: opt, who: opt.Identity.String(), cloud: opt.Identity.Cloud}, nil
}

// vaultState is one vault's client and whether it has failed.
type vaultState struct {
	host   string
	client *azsecrets.Client
	// The first lookup of a vault runs alone: it elicits the authentication challenge, which the
	// client then reuses; concurrent first lookups would each pay an unauthenticated round trip.
	claimed bool
	ready   chan struct{}
	err     error
	mu      sync.Mutex
}

func (vs *vaultState) failed() error {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return vs.err
}

func (vs *vaultState) fail(err error) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.err == nil {
		vs.err = err
	}
}

// Verify looks every reference up and returns the KV012-KV014 findings. An error means at
// least one vault could not be read (refused, throttled past the retries, unreachable): the
// gate must fail closed.
func (v *Verifier) Verify(ctx context.Context, refs []keyvault.Reference) ([]finding.Finding, error) {
	start := time.Now()
	plan := Resolve(refs, v.cloud.VaultSuffix)
	vaults := map[string]*vaultState{}
	var order []string
	for _, t := range plan.Targets {
		if vaults[t.Host] == nil {
			c, err := v.newSecretsClient(t.Host)
			if err != nil {
				return nil, fmt.Errorf("vault %s: %w", t.Host, err)
			}
			vaults[t.Host] = &vaultState{host: t.Host, client: c, ready: make(chan struct{})}
			order = append(order, t.Host)
		}
	}
	var arm runtime.Pipeline
	if len(plan.Vaults) > 0 {
		arm = v.newARMPipeline()
	}

	outcomes := make([]outcome, len(plan.Targets))
	armOut := make([]armResult, len(plan.Vaults))
	jobs := make(chan int, v.opt.Concurrency)
	var wg sync.WaitGroup
	armErrs := make([]error, len(plan.Vaults)) // by vault, so the message order is stable
	index := map[*Target]int{}
	for i, t := range plan.Targets {
		index[t] = i
	}
	all := interleave(plan.Targets, order)
	for w := 0; w < v.opt.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if j < len(all) {
					t := all[j]
					a, ok := v.lookup(ctx, vaults[t.Host], t)
					outcomes[index[t]] = outcome{a: a, done: ok}
					continue
				}
				k := j - len(all)
				armOut[k], armErrs[k] = v.readVault(ctx, arm, plan.Vaults[k])
			}
		}()
	}
	for j := 0; j < len(all)+len(plan.Vaults); j++ {
		if ctx.Err() != nil {
			break
		}
		jobs <- j
	}
	close(jobs)
	wg.Wait()

	var errs []error
	for _, h := range order {
		if err := vaults[h].failed(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, err := range armErrs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("verification did not finish before the task's deadline: %w", ctx.Err()))
	}
	v.collect(plan, outcomes, armOut)
	v.mu.Lock()
	v.stats.Duration = time.Since(start)
	v.stats.VaultRequests = v.vaultRequests.Load()
	v.stats.ManagementRequests = v.mgmtRequests.Load()
	v.stats.Vaults = len(order)
	v.mu.Unlock()
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return v.Findings(), nil
}

// interleave orders targets round-robin across vaults, so the first (challenge) lookups of
// different vaults run in parallel rather than queueing behind one vault.
func interleave(targets []*Target, hosts []string) []*Target {
	by := map[string][]*Target{}
	for _, t := range targets {
		by[t.Host] = append(by[t.Host], t)
	}
	out := make([]*Target, 0, len(targets))
	for i := 0; len(out) < len(targets); i++ {
		for _, h := range hosts {
			if i < len(by[h]) {
				out = append(out, by[h][i])
			}
		}
	}
	return out
}

func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	const show = 5
	msgs := make([]string, 0, show)
	for i, e := range errs {
		if i == show {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(errs)-show))
			break
		}
		msgs = append(msgs, e.Error())
	}
	return &lookupError{msg: fmt.Sprintf("verification failed in %d places: %s", len(errs), strings.Join(msgs, "; ")), err: errors.Join(errs...)}
}

// outcome is a target's assessment; done is false when its vault failed first.
type outcome struct {
	a    Assessment
	done bool
}

// lookup lists one secret's versions and assesses them; false means the vault failed.
func (v *Verifier) lookup(ctx context.Context, vs *vaultState, t *Target) (Assessment, bool) {
	vs.mu.Lock()
	first := !vs.claimed
	vs.claimed = true
	vs.mu.Unlock()
	if first {
		defer close(vs.ready)
	} else {
		select {
		case <-vs.ready:
		case <-ctx.Done():
			vs.fail(explainVault(ctx.Err(), vs.host, v.who))
			return Assessment{}, false
		}
	}
	if vs.failed() != nil {
		return Assessment{}, false
	}
	versions, err := v.listVersions(ctx, vs.client, t.Secret, t.Version)
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			d := responseDetail(re)
			return Assessment{Version: t.Version, Unusable: []Problem{{codeMissing, fmt.Sprintf("secret '%s' does not exist (404%s)", t.Secret, codes(d))}}}, true
		}
		vs.fail(explainVault(err, vs.host, v.who))
		return Assessment{}, false
	}
	return Assess(t.Secret, t.Version, versions, Policy{Now: v.now(), ExpiryWarningDays: v.opt.ExpiryWarningDays, RequireExpiry: v.opt.RequireExpiry}), true
}

func (v *Verifier) now() time.Time {
	if v.opt.Now.IsZero() {
		return time.Now()
	}
	return v.opt.Now
}

// listVersions reads a secret's version properties page by page. A pinned version ends the
// listing as soon as it is seen.
func (v *Verifier) listVersions(ctx context.Context, c *azsecrets.Client, name, pinned string) ([]VersionInfo, error) {
	var out []VersionInfo
	pager := c.NewListSecretPropertiesVersionsPager(name, nil)
	for pages := 0; pager.More(); pages++ {
		if pages == maxPages {
			return nil, fmt.Errorf("secret %s: more than %d pages of versions", name, maxPages)
		}
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.Value {
			if p == nil || p.ID == nil {
				continue
			}
			vi := VersionInfo{ID: p.ID.Version()}
			if a := p.Attributes; a != nil {
				vi.Enabled, vi.Created, vi.Updated, vi.NotBefore, vi.Expires = a.Enabled, a.Created, a.Updated, a.NotBefore, a.Expires
			}
			out = append(out, vi)
			if pinned != "" && strings.EqualFold(vi.ID, pinned) {
				return out, nil
			}
		}
	}
	return out, nil
}

func (v *Verifier) newSecretsClient(host string) (*azsecrets.Client, error) {
	o := v.opt.ClientOptions
	o.PerCallPolicies = append(append([]policy.Policy(nil), o.PerCallPolicies...), listOnlyPolicy{})
	o.PerRetryPolicies = append(append([]policy.Policy(nil), o.PerRetryPolicies...), countPolicy{n: &v.vaultRequests})
	o.Cloud = v.cloud.Configuration
	return azsecrets.NewClient("https://"+host+"/", v.opt.Identity.Credential, &azsecrets.ClientOptions{
		ClientOptions:                        o,
		DisableChallengeResourceVerification: v.opt.DisableChallengeResourceVerification,
	})
}

// listOnlyPolicy refuses every Key Vault request but listing a secret's versions, so no code
// path (or future change) can read a secret value with this pipeline.
type listOnlyPolicy struct{}

func (listOnlyPolicy) Do(req *policy.Request) (*http.Response, error) {
	r := req.Raw()
	if !IsVersionListPath(r.Method, r.URL.Path) {
		return nil, fmt.Errorf("refusing %s %s: reference verification only lists secret versions and never reads secret values", r.Method, r.URL.Path)
	}
	return req.Next()
}

// IsVersionListPath reports whether a Key Vault request is a list of one secret's versions
// (GET /secrets/{name}/versions), the only data-plane request verification makes.
func IsVersionListPath(method, path string) bool {
	if method != http.MethodGet {
		return false
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	return len(segs) == 3 && segs[0] == "secrets" && segs[1] != "" && segs[2] == "versions"
}

// countPolicy counts requests sent, retries and challenge round trips included.
type countPolicy struct{ n *atomic.Int64 }

func (p countPolicy) Do(req *policy.Request) (*http.Response, error) {
	p.n.Add(1)
	return req.Next()
}

// Findings returns the findings of the last Verify.
func (v *Verifier) Findings() []finding.Finding {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]finding.Finding(nil), v.findings...)
}

// Results returns one result per distinct secret and per reference not verified.
func (v *Verifier) Results() []Result {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Result(nil), v.results...)
}

// Stats returns what the last Verify did.
func (v *Verifier) Stats() Stats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.stats
}

// Verified is the number of distinct secrets looked up (the secretsVerified output).
func (v *Verifier) Verified() int { return v.Stats().Secrets }

// Notes are summary lines about what could not be checked.
func (v *Verifier) Notes() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.notes...)
}

// Detail describes the verification for the report's check list.
func (v *Verifier) Detail() string {
	s := v.Stats()
	d := fmt.Sprintf("%d %s looked up in %d %s as %s (%d Key Vault %s", s.Secrets, plural(s.Secrets, "secret", "secrets"),
		s.Vaults, plural(s.Vaults, "vault", "vaults"), v.who, s.VaultRequests, plural(int(s.VaultRequests), "request", "requests"))
	if s.ManagementRequests > 0 {
		d += fmt.Sprintf(", %d Resource Manager %s", s.ManagementRequests, plural(int(s.ManagementRequests), "request", "requests"))
	}
	d += fmt.Sprintf(", %s)", s.Duration.Round(time.Millisecond))
	if s.NotVerified > 0 {
		d += fmt.Sprintf("; %d %s not verified", s.NotVerified, plural(s.NotVerified, "reference", "references"))
	}
	return d
}
