package packer

import (
	"fmt"
	"sort"
	"strings"
)

// Platform is a GOOS/GOARCH pair, named like the launcher's bin/<os>-<arch> folders.
type Platform struct {
	OS, Arch string
}

func (p Platform) String() string { return p.OS + "-" + p.Arch }

// Exe is the file name of binary on this platform.
func (p Platform) Exe(binary string) string {
	if p.OS == "windows" {
		return binary + ".exe"
	}
	return binary
}

// DefaultPlatforms are the agents most organisations run; together they fit the 25 MiB
// Marketplace limit. macOS needs PLATFORMS=all.
func DefaultPlatforms() []Platform {
	return []Platform{{"linux", "amd64"}, {"linux", "arm64"}, {"windows", "amd64"}}
}

// AllPlatforms are every platform the launcher can map from process.platform/process.arch.
func AllPlatforms() []Platform {
	return []Platform{{"darwin", "amd64"}, {"darwin", "arm64"}, {"linux", "amd64"}, {"linux", "arm64"}, {"windows", "amd64"}}
}

// ParsePlatforms reads the PLATFORMS setting: empty for the default set, "all", or a
// comma-separated list such as "linux-amd64,windows-amd64".
func ParsePlatforms(s string) ([]Platform, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "default":
		return DefaultPlatforms(), nil
	case "all":
		return AllPlatforms(), nil
	}
	seen := map[Platform]bool{}
	var out []Platform
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, ok := lookupPlatform(item)
		if !ok {
			return nil, fmt.Errorf("platform %q: want one of %s, or \"all\"", item, platformNames(AllPlatforms()))
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("platforms %q: no platform given", s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

func lookupPlatform(name string) (Platform, bool) {
	for _, p := range AllPlatforms() {
		if p.String() == name {
			return p, true
		}
	}
	return Platform{}, false
}

func platformNames(ps []Platform) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.String()
	}
	return strings.Join(names, ", ")
}
