package server

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stagegate/stagegate/pkg/task"
)

// Config is a validated serve configuration with its secrets loaded. Build it with LoadConfig or
// ParseConfig: the caller secrets are unexported, so a Config cannot be filled by hand.
type Config struct {
	// Listen is the TCP address, e.g. ":8080".
	Listen string
	// TLS serves HTTPS with this certificate when set.
	TLS *TLSConfig
	// Organizations is the allow-list of organization URLs (no trailing slash). The server reads
	// from and posts to these only.
	Organizations []string
	// Callers may call the gate endpoints.
	Callers []Caller
	// Identity is the server's own identity for reading Azure DevOps outside callback mode.
	Identity IdentityConfig
	Limits   Limits
	// Defaults holds inputs per gate for every environment (gate -> input -> value).
	Defaults map[string]map[string]string
	// Environments holds inputs per environment and gate; keys are lower-cased names.
	Environments map[string]map[string]map[string]string
	// AllowUnknownEnvironments lets requests name an environment the file does not list (or
	// none); Defaults then apply. Off by default: a typo fails closed.
	AllowUnknownEnvironments bool
	LogLevel                 slog.Level
}

// TLSConfig names the certificate and key files (PEM).
type TLSConfig struct {
	CertFile, KeyFile string
}

// Caller is one client allowed to call: the Basic credentials of a Generic service connection,
// or a bearer secret. Only digests of the secrets are kept.
type Caller struct {
	Name     string
	Username string // Basic authentication; empty for a bearer caller
	// Environments restricts which environments this caller may name (lower-case); empty: any.
	Environments []string

	secret [sha256.Size]byte
	user   [sha256.Size]byte
	bearer bool
}

// IdentityConfig is the server's identity. Type is none, pat, managedIdentity, workloadIdentity
// or azureDefault.
type IdentityConfig struct {
	Type     string
	ClientID string
	TenantID string
	pat      string
}

// Identity types.
const (
	IdentityNone             = "none"
	IdentityPAT              = "pat"
	IdentityManagedIdentity  = "managedIdentity"
	IdentityWorkloadIdentity = "workloadIdentity"
	IdentityAzureDefault     = "azureDefault"
)

// PAT returns the personal access token of a pat identity.
func (i IdentityConfig) PAT() string { return i.pat }

// Limits bound what one request and the whole server may use.
type Limits struct {
	MaxBodyBytes  int64
	MaxConcurrent int
	// SyncTimeout bounds a synchronous evaluation: the check gives up after 20 seconds, so the
	// default answers a little before that.
	SyncTimeout time.Duration
	// CallbackTimeout bounds a callback evaluation.
	CallbackTimeout time.Duration
	// CompletionTimeout bounds posting the log and TaskCompleted after an evaluation, retries
	// included; it is spent even while shutting down.
	CompletionTimeout time.Duration
	ShutdownGrace     time.Duration
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// RetryAfter is sent with 429 and 503 answers.
	RetryAfter time.Duration
	// MaxFeedLines bounds the log lines posted per evaluation.
	MaxFeedLines int
	// Repository bounds the download of a repository for the Key Vault gate.
	RepositoryMaxArchiveBytes int64
	RepositoryMaxFiles        int
	RepositoryMaxBytes        int64
}

// DefaultLimits are the limits of a file that sets none.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:              64 << 10,
		MaxConcurrent:             16,
		SyncTimeout:               18 * time.Second,
		CallbackTimeout:           10 * time.Minute,
		CompletionTimeout:         time.Minute,
		ShutdownGrace:             30 * time.Second,
		ReadHeaderTimeout:         5 * time.Second,
		ReadTimeout:               15 * time.Second,
		WriteTimeout:              33 * time.Second, // syncTimeout + 15s
		IdleTimeout:               2 * time.Minute,
		RetryAfter:                10 * time.Second,
		MaxFeedLines:              2000,
		RepositoryMaxArchiveBytes: 64 << 20,
		RepositoryMaxFiles:        20000,
		RepositoryMaxBytes:        256 << 20,
	}
}

// minSecretLen keeps guessable caller secrets out: a Generic service connection password or a
// bearer secret must be at least this long.
const minSecretLen = 16

// LoadConfig reads and validates a configuration file. Secret files named in it are read
// relative to the file's folder; secret environment variables through env.
func LoadConfig(path string, env task.LookupFunc) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the configuration: %w", err)
	}
	return ParseConfig(path, data, env)
}

// ParseConfig parses a configuration. name is the file name used in messages and to resolve
// relative secret files.
func ParseConfig(name string, data []byte, env task.LookupFunc) (*Config, error) {
	if env == nil {
		env = task.MapEnv(nil)
	}
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the configuration is empty", name)
		}
		return nil, fmt.Errorf("%s: %s", name, yamlMessage(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: only one YAML document is allowed", name)
	}
	c, err := fc.build(filepath.Dir(name), env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

var (
	yamlFieldRe  = regexp.MustCompile(`field (\S+) not found in type \S+`)
	yamlPrefixRe = regexp.MustCompile(`^yaml: (unmarshal errors:\n\s*)?`)
)

// yamlMessage rewrites the decoder's messages for people: "unknown key" instead of Go type names.
func yamlMessage(err error) string {
	msg := yamlPrefixRe.ReplaceAllString(err.Error(), "")
	msg = yamlFieldRe.ReplaceAllString(msg, `unknown key "$1"`)
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " ")
}

// The file's shape. Every struct is decoded with KnownFields, so a misspelt key is an error
// with its line.
type fileConfig struct {
	Listen                   string                  `yaml:"listen"`
	TLS                      *fileTLS                `yaml:"tls"`
	Organizations            []string                `yaml:"organizations"`
	Callers                  []fileCaller            `yaml:"callers"`
	Identity                 fileIdentity            `yaml:"identity"`
	Limits                   fileLimits              `yaml:"limits"`
	Defaults                 gatePolicies            `yaml:"defaults"`
	Environments             map[string]gatePolicies `yaml:"environments"`
	AllowUnknownEnvironments bool                    `yaml:"allowUnknownEnvironments"`
	LogLevel                 string                  `yaml:"logLevel"`
}

type fileTLS struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
}

type fileCaller struct {
	Name         string   `yaml:"name"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"passwordFile"`
	PasswordEnv  string   `yaml:"passwordEnv"`
	BearerFile   string   `yaml:"bearerTokenFile"`
	BearerEnv    string   `yaml:"bearerTokenEnv"`
	Environments []string `yaml:"environments"`
}

type fileIdentity struct {
	Type     string `yaml:"type"`
	ClientID string `yaml:"clientId"`
	TenantID string `yaml:"tenantId"`
	PATFile  string `yaml:"patFile"`
	PATEnv   string `yaml:"patEnv"`
}

type fileLimits struct {
	MaxBodyBytes      *byteSize `yaml:"maxBodyBytes"`
	MaxConcurrent     *int      `yaml:"maxConcurrent"`
	SyncTimeout       *duration `yaml:"syncTimeout"`
	CallbackTimeout   *duration `yaml:"callbackTimeout"`
	CompletionTimeout *duration `yaml:"completionTimeout"`
	ShutdownGrace     *duration `yaml:"shutdownGrace"`
	ReadHeaderTimeout *duration `yaml:"readHeaderTimeout"`
	ReadTimeout       *duration `yaml:"readTimeout"`
	WriteTimeout      *duration `yaml:"writeTimeout"`
	IdleTimeout       *duration `yaml:"idleTimeout"`
	RetryAfter        *duration `yaml:"retryAfter"`
	MaxFeedLines      *int      `yaml:"maxFeedLines"`
	Repository        struct {
		MaxArchiveBytes *byteSize `yaml:"maxArchiveBytes"`
		MaxFiles        *int      `yaml:"maxFiles"`
		MaxBytes        *byteSize `yaml:"maxBytes"`
	} `yaml:"repository"`
}

// gatePolicies maps gate names to inputs, keeping the lines for messages.
type gatePolicies struct {
	gates map[string]map[string]string
	line  int
}

func (g *gatePolicies) UnmarshalYAML(n *yaml.Node) error {
	g.line = n.Line
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a map of gate names (workitems, reviews, keyvault) to inputs", n.Line)
	}
	g.gates = map[string]map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		gate := k.Value
		def, ok := gateDefinition(gate)
		if !ok {
			return fmt.Errorf("line %d: unknown gate %q (expected workitems, reviews or keyvault)", k.Line, gate)
		}
		if _, dup := g.gates[gate]; dup {
			return fmt.Errorf("line %d: gate %q is listed twice", k.Line, gate)
		}
		inputs := map[string]string{}
		if !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
			if v.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: gate %q: expected a map of input names to values", v.Line, gate)
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				ik, iv := v.Content[j], v.Content[j+1]
				in, ok := def.Input(ik.Value)
				if !ok {
					return fmt.Errorf("line %d: gate %q has no input %q (its inputs: %s)", ik.Line, gate, ik.Value, inputNames(def))
				}
				if _, dup := inputs[in.Name]; dup {
					return fmt.Errorf("line %d: input %q is set twice", ik.Line, in.Name)
				}
				if iv.Kind != yaml.ScalarNode {
					return fmt.Errorf("line %d: input %q: expected a single value (a string, number or boolean)", iv.Line, in.Name)
				}
				val := iv.Value
				if iv.Tag == "!!null" {
					val = ""
				}
				if err := vetPolicyInput(gate, in.Name, val); err != nil {
					return fmt.Errorf("line %d: %w", iv.Line, err)
				}
				inputs[in.Name] = val
			}
		}
		g.gates[gate] = inputs
	}
	return nil
}

// duration reads Go durations ("20s", "10m").
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil || v <= 0 {
		return fmt.Errorf("line %d: %q is not a positive duration (for example 20s or 10m)", n.Line, n.Value)
	}
	*d = duration(v)
	return nil
}

// byteSize reads a byte count, plain or with KiB, MiB or GiB.
type byteSize int64

func (b *byteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = byteSize(v)
	return nil
}

func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, suffix)), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a positive size in bytes (for example 65536 or 64KiB)", s)
	}
	return n * mult, nil
}

func (fc *fileConfig) build(dir string, env task.LookupFunc) (*Config, error) {
	c := &Config{Listen: fc.Listen, AllowUnknownEnvironments: fc.AllowUnknownEnvironments, Limits: DefaultLimits()}
	if c.Listen == "" {
		c.Listen = ":8080"
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return nil, fmt.Errorf("listen: %q is not host:port (for example :8080): %w", c.Listen, err)
	}
	switch strings.ToLower(fc.LogLevel) {
	case "", "info":
		c.LogLevel = slog.LevelInfo
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		return nil, fmt.Errorf("logLevel: %q is not debug, info, warn or error", fc.LogLevel)
	}
	if fc.TLS != nil {
		if fc.TLS.CertFile == "" || fc.TLS.KeyFile == "" {
			return nil, errors.New("tls: both certFile and keyFile are required (omit tls when TLS ends at a load balancer)")
		}
		c.TLS = &TLSConfig{CertFile: resolve(dir, fc.TLS.CertFile), KeyFile: resolve(dir, fc.TLS.KeyFile)}
	}
	if len(fc.Organizations) == 0 {
		return nil, errors.New("organizations: list at least one organization URL (https://dev.azure.com/<organization>): the server reads from and posts to these only")
	}
	seen := map[string]bool{}
	for i, o := range fc.Organizations {
		u, err := normalizeOrgURL(o)
		if err != nil {
			return nil, fmt.Errorf("organizations[%d]: %w", i, err)
		}
		if seen[strings.ToLower(u)] {
			return nil, fmt.Errorf("organizations[%d]: %q is listed twice", i, o)
		}
		seen[strings.ToLower(u)] = true
		c.Organizations = append(c.Organizations, u)
	}
	if err := fc.buildLimits(&c.Limits); err != nil {
		return nil, err
	}
	if err := fc.buildIdentity(&c.Identity, dir, env); err != nil {
		return nil, err
	}
	c.Defaults = fc.Defaults.gates
	if c.Defaults == nil {
		c.Defaults = map[string]map[string]string{}
	}
	c.Environments = map[string]map[string]map[string]string{}
	names := make([]string, 0, len(fc.Environments))
	for n := range fc.Environments {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		key := strings.ToLower(strings.TrimSpace(n))
		if key == "" {
			return nil, errors.New("environments: an environment name is empty")
		}
		if _, dup := c.Environments[key]; dup {
			return nil, fmt.Errorf("environments: %q is listed twice (names are compared ignoring case)", n)
		}
		g := fc.Environments[n].gates
		if g == nil {
			g = map[string]map[string]string{}
		}
		c.Environments[key] = g
	}
	if len(fc.Callers) == 0 {
		return nil, errors.New("callers: list at least one caller (the Basic credentials of the Generic service connection, or a bearer secret)")
	}
	callerNames := map[string]bool{}
	for i, fcl := range fc.Callers {
		cl, err := fcl.build(dir, env, c)
		if err != nil {
			return nil, fmt.Errorf("callers[%d]: %w", i, err)
		}
		if callerNames[strings.ToLower(cl.Name)] {
			return nil, fmt.Errorf("callers[%d]: the name %q is used twice", i, cl.Name)
		}
		callerNames[strings.ToLower(cl.Name)] = true
		c.Callers = append(c.Callers, cl)
	}
	return c, nil
}

func (fc *fileConfig) buildLimits(l *Limits) error {
	fl := fc.Limits
	if fl.MaxBodyBytes != nil {
		l.MaxBodyBytes = int64(*fl.MaxBodyBytes)
		if l.MaxBodyBytes > 4<<20 {
			return errors.New("limits.maxBodyBytes: at most 4MiB (a check request is a few hundred bytes)")
		}
	}
	ints := []struct {
		name string
		v    *int
		dst  *int
		max  int
	}{
		{"limits.maxConcurrent", fl.MaxConcurrent, &l.MaxConcurrent, 4096},
		{"limits.maxFeedLines", fl.MaxFeedLines, &l.MaxFeedLines, 1000000},
		{"limits.repository.maxFiles", fl.Repository.MaxFiles, &l.RepositoryMaxFiles, 10000000},
	}
	for _, it := range ints {
		if it.v == nil {
			continue
		}
		if *it.v < 1 || *it.v > it.max {
			return fmt.Errorf("%s: %d is not between 1 and %d", it.name, *it.v, it.max)
		}
		*it.dst = *it.v
	}
	durs := []struct {
		v   *duration
		dst *time.Duration
	}{
		{fl.SyncTimeout, &l.SyncTimeout}, {fl.CallbackTimeout, &l.CallbackTimeout}, {fl.CompletionTimeout, &l.CompletionTimeout},
		{fl.ShutdownGrace, &l.ShutdownGrace}, {fl.ReadHeaderTimeout, &l.ReadHeaderTimeout}, {fl.ReadTimeout, &l.ReadTimeout},
		{fl.IdleTimeout, &l.IdleTimeout}, {fl.RetryAfter, &l.RetryAfter},
	}
	for _, d := range durs {
		if d.v != nil {
			*d.dst = time.Duration(*d.v)
		}
	}
	if fl.WriteTimeout != nil {
		l.WriteTimeout = time.Duration(*fl.WriteTimeout)
	} else {
		l.WriteTimeout = l.SyncTimeout + 15*time.Second
	}
	if l.WriteTimeout <= l.SyncTimeout {
		return fmt.Errorf("limits.writeTimeout (%s) must be longer than limits.syncTimeout (%s), or synchronous answers are cut off", l.WriteTimeout, l.SyncTimeout)
	}
	if fl.Repository.MaxArchiveBytes != nil {
		l.RepositoryMaxArchiveBytes = int64(*fl.Repository.MaxArchiveBytes)
	}
	if fl.Repository.MaxBytes != nil {
		l.RepositoryMaxBytes = int64(*fl.Repository.MaxBytes)
	}
	return nil
}

func (fc *fileConfig) buildIdentity(id *IdentityConfig, dir string, env task.LookupFunc) error {
	fi := fc.Identity
	id.Type, id.ClientID, id.TenantID = fi.Type, strings.TrimSpace(fi.ClientID), strings.TrimSpace(fi.TenantID)
	if id.Type == "" {
		id.Type = IdentityNone
	}
	hasPAT := fi.PATFile != "" || fi.PATEnv != ""
	switch id.Type {
	case IdentityNone, IdentityAzureDefault:
	case IdentityManagedIdentity, IdentityWorkloadIdentity:
	case IdentityPAT:
		pat, err := readSecret("identity: the personal access token", fi.PATFile, fi.PATEnv, dir, env, 1)
		if err != nil {
			return err
		}
		id.pat = pat
	default:
		return fmt.Errorf("identity.type: %q is not none, pat, managedIdentity, workloadIdentity or azureDefault", fi.Type)
	}
	if hasPAT && id.Type != IdentityPAT {
		return fmt.Errorf("identity: patFile and patEnv belong to type pat, not %s", id.Type)
	}
	if (id.ClientID != "" || id.TenantID != "") && id.Type != IdentityManagedIdentity && id.Type != IdentityWorkloadIdentity {
		return fmt.Errorf("identity: clientId and tenantId belong to types managedIdentity and workloadIdentity, not %s", id.Type)
	}
	return nil
}

func (f fileCaller) build(dir string, env task.LookupFunc, c *Config) (Caller, error) {
	cl := Caller{Name: strings.TrimSpace(f.Name), Username: f.Username}
	if cl.Name == "" {
		return cl, errors.New("name is required (it appears in logs and metrics)")
	}
	basic := f.PasswordFile != "" || f.PasswordEnv != "" || f.Username != ""
	bearer := f.BearerFile != "" || f.BearerEnv != ""
	var secret string
	var err error
	switch {
	case basic && bearer:
		return cl, fmt.Errorf("caller %q: give either username with passwordFile/passwordEnv, or bearerTokenFile/bearerTokenEnv, not both", cl.Name)
	case basic:
		if f.Username == "" {
			return cl, fmt.Errorf("caller %q: username is required with a password", cl.Name)
		}
		secret, err = readSecret(fmt.Sprintf("caller %q: the password", cl.Name), f.PasswordFile, f.PasswordEnv, dir, env, minSecretLen)
	case bearer:
		cl.bearer = true
		secret, err = readSecret(fmt.Sprintf("caller %q: the bearer token", cl.Name), f.BearerFile, f.BearerEnv, dir, env, minSecretLen)
	default:
		return cl, fmt.Errorf("caller %q: give username with passwordFile or passwordEnv, or bearerTokenFile or bearerTokenEnv", cl.Name)
	}
	if err != nil {
		return cl, err
	}
	cl.secret = sha256.Sum256([]byte(secret))
	cl.user = sha256.Sum256([]byte(f.Username))
	for _, e := range f.Environments {
		key := strings.ToLower(strings.TrimSpace(e))
		if _, ok := c.Environments[key]; !ok && !c.AllowUnknownEnvironments {
			return cl, fmt.Errorf("caller %q: environment %q is not listed under environments", cl.Name, e)
		}
		cl.Environments = append(cl.Environments, key)
	}
	return cl, nil
}

// readSecret reads a secret from exactly one of a file or an environment variable; secrets are
// never accepted inline or as flags, so they stay out of the file, the shell history and ps.
func readSecret(what, file, envName, dir string, env task.LookupFunc, minLen int) (string, error) {
	var v string
	switch {
	case file != "" && envName != "":
		return "", fmt.Errorf("%s: give a file or an environment variable, not both", what)
	case file != "":
		p := resolve(dir, file)
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		if fi.Size() > 16<<10 {
			return "", fmt.Errorf("%s: %s is larger than 16KiB: is it the right file?", what, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		v = strings.TrimRight(string(b), "\r\n")
	case envName != "":
		val, ok := env(envName)
		if !ok {
			return "", fmt.Errorf("%s: the environment variable %s is not set", what, envName)
		}
		v = strings.TrimRight(val, "\r\n")
	default:
		return "", fmt.Errorf("%s: give a file or an environment variable", what)
	}
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("%s is empty", what)
	}
	if len(v) < minLen {
		return "", fmt.Errorf("%s is shorter than %d characters: use a long random secret", what, minLen)
	}
	return v, nil
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

// normalizeOrgURL checks an organization URL and returns it without a trailing slash. Plain
// http is accepted for loopback hosts only (the simulator, tests).
func normalizeOrgURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not a URL (expected https://dev.azure.com/<organization>)", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: an organization URL has no credentials, query or fragment", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("%q: only https is allowed (plain http only for localhost)", raw)
		}
	default:
		return "", fmt.Errorf("%q: only https is allowed", raw)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
