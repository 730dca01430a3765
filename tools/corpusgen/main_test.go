package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gates/keyvault"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/discover"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
	kv "github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/task"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{in: "1GB", want: 1_000_000_000},
		{in: "1gb", want: 1_000_000_000},
		{in: "500MB", want: 500_000_000},
		{in: "64MiB", want: 64 << 20},
		{in: "1.5KiB", want: 1536},
		{in: "2 GiB", want: 2 << 30},
		{in: "1048576", want: 1 << 20},
		{in: "10B", want: 10},
		{in: "", err: "positive number"},
		{in: "GB", err: "positive number"},
		{in: "-1MB", err: "positive number"},
		{in: "0", err: "positive number"},
		{in: "1TB", err: `unknown unit "tb"`},
		{in: "3 furlongs", err: "unknown unit"},
		{in: "2000000GB", err: "up to 1 PiB"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := kvtest.ParseSize(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Contains(t, err.Error(), tc.in)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	full := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(full, "x.json"), []byte("{}"), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no size", []string{"-out", t.TempDir()}, "usage:"},
		{"no out", []string{"-size", "1MB"}, "usage:"},
		{"bad size", []string{"-size", "lots", "-out", t.TempDir()}, `size "lots"`},
		{"not empty", []string{"-size", "1MB", "-out", full}, "is not empty"},
		{"extra argument", []string{"-size", "1MB", "-out", t.TempDir(), "more"}, "usage:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, 2, run(context.Background(), tc.args, &stdout, &stderr))
			assert.Contains(t, stderr.String(), tc.want)
			assert.Empty(t, stdout.String())
		})
	}
	// Nothing was written into the folder that already held a file.
	entries, err := os.ReadDir(full)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

// The tree holds every content kind, is the same for the same seed, and the Key Vault gate
// reports exactly the planted findings on it: the clean projects are realistic, well kept and
// parse.
func TestGeneratedTreeScansToPlantedFindings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "corpus")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"-size", "1500KB", "-out", dir, "-seed", "7", "-json"}, &stdout, &stderr), stderr.String())
	var sum Summary
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &sum))
	assert.GreaterOrEqual(t, sum.Bytes, int64(1_500_000))
	assert.Positive(t, sum.Findings)
	for _, k := range []string{kvtest.KindARMTemplate, kvtest.KindARMParameters, kvtest.KindBicep, kvtest.KindBicepParam, kvtest.KindTerraform, kvtest.KindTFVars, kvtest.KindPipeline, kvtest.KindAppSettings, kvtest.KindLockFile, kvtest.KindOtherYAML, kvtest.KindBad} {
		assert.Positive(t, sum.Kinds[k].Files, k)
	}
	files, bytes := treeSize(t, dir)
	assert.Equal(t, sum.Files, files)
	assert.Equal(t, sum.Bytes, bytes)
	// The default mix spreads the archetypes evenly: 7, 6, 4 and 3 of every 20 projects.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, sum.Projects)
	perKind := map[string]int{}
	for _, e := range entries {
		kind, _, _ := strings.Cut(e.Name(), "-")
		perKind[kind]++
	}
	for kind, weight := range map[string]int{"terraform": 7, "bicep": 6, "arm": 4, "app": 3} {
		assert.InDelta(t, float64(sum.Projects*weight)/20, perKind[kind], 1.5, kind)
	}

	for _, allowed := range [][]string{nil, kvtest.AllowedVaults()} {
		o := &keyvault.Options{Root: dir, Workers: 2}
		var err error
		o.Include, err = discover.Compile("include", task.SplitList("**/*.json,**/*.jsonc,**/*.bicep,**/*.bicepparam,**/*.tf,**/*.tfvars,**/*.yml,**/*.yaml"))
		require.NoError(t, err)
		o.Exclude, err = discover.Compile("exclude", task.SplitList("**/node_modules/**,**/.git/**,**/.terraform/**"))
		require.NoError(t, err)
		if allowed != nil {
			o.Allow, err = kv.ParseAllowList(allowed)
			require.NoError(t, err)
		}
		res, err := keyvault.Scan(context.Background(), o)
		require.NoError(t, err)
		errorsSeen := 0
		for _, f := range res.Report().Findings {
			if f.Severity == finding.Error {
				errorsSeen++
				assert.Contains(t, f.Location.Path, "/bad/", "finding outside the planted files: %+v", f)
			}
		}
		assert.Equal(t, sum.Findings, errorsSeen, "allowed vaults %v", allowed != nil)
	}

	again := filepath.Join(t.TempDir(), "again")
	require.Equal(t, 0, run(context.Background(), []string{"-size", "1500KB", "-out", again, "-seed", "7"}, &stdout, &stderr), stderr.String())
	assert.Equal(t, digest(t, dir), digest(t, again), "same seed, same tree")
	other := filepath.Join(t.TempDir(), "other")
	require.Equal(t, 0, run(context.Background(), []string{"-size", "1500KB", "-out", other, "-seed", "8"}, &stdout, &stderr), stderr.String())
	assert.NotEqual(t, digest(t, dir), digest(t, other), "another seed, another tree")
}

func TestMix(t *testing.T) {
	for _, tc := range []struct {
		mix        string
		want, none []string
	}{
		{"terraform=1", []string{kvtest.KindTerraform, kvtest.KindTFVars, kvtest.KindPipeline}, []string{kvtest.KindBicep, kvtest.KindARMTemplate, kvtest.KindLockFile}},
		{"arm=2,app=1", []string{kvtest.KindARMTemplate, kvtest.KindARMParameters, kvtest.KindLockFile, kvtest.KindAppSettings}, []string{kvtest.KindTerraform}},
		{"bicep=1,terraform=0", []string{kvtest.KindBicep, kvtest.KindBicepParam, kvtest.KindARMTemplate}, []string{kvtest.KindTerraform, kvtest.KindLockFile}},
	} {
		t.Run(tc.mix, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, 0, run(context.Background(), []string{"-size", "400KB", "-out", t.TempDir(), "-mix", tc.mix, "-json"}, &stdout, &stderr), stderr.String())
			var sum Summary
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &sum))
			for _, k := range tc.want {
				assert.Positive(t, sum.Kinds[k].Files, k)
			}
			for _, k := range tc.none {
				assert.Zero(t, sum.Kinds[k].Files, k)
			}
		})
	}
	for _, bad := range []string{"terraform", "terraform=x", "cobol=3", "terraform=0,arm=0", "arm=-1", "app=1001"} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(context.Background(), []string{"-size", "1MB", "-out", t.TempDir(), "-mix", bad}, &stdout, &stderr), bad)
		assert.Contains(t, stderr.String(), "mix", bad)
	}
	m, err := kvtest.ParseMix("default")
	require.NoError(t, err)
	assert.Equal(t, kvtest.DefaultMix(), m)
	assert.Equal(t, "terraform=7,bicep=6,arm=4,app=3", m.String())
}

func TestAllowedVaults(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"-allowed-vaults"}, &stdout, &stderr))
	list := strings.Split(strings.TrimSpace(stdout.String()), ",")
	assert.Contains(t, list, "kv-hub-prod")
	_, err := kv.ParseAllowList(list)
	require.NoError(t, err)
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 1, run(ctx, []string{"-size", "1MB", "-out", t.TempDir()}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "context canceled")
}

func treeSize(t *testing.T, dir string) (files int, size int64) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.Type().IsRegular() {
			fi, err := d.Info()
			require.NoError(t, err)
			files++
			size += fi.Size()
		}
		return nil
	}))
	return files, size
}

func digest(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			require.NoError(t, err)
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			h.Write([]byte(filepath.ToSlash(rel) + "\x00"))
			h.Write(data)
		}
		return nil
	}))
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}
