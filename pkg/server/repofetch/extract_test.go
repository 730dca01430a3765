package repofetch

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type entry struct {
	name string
	body string
	mode fs.FileMode // 0: regular file
}

func makeZip(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		require.NoError(t, err)
		_, err = w.Write([]byte(e.body))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// lyingZip declares a tiny uncompressed size for a body that really inflates to n bytes.
func lyingZip(t testing.TB, n int) []byte {
	t.Helper()
	plain := bytes.Repeat([]byte("A"), n)
	var comp bytes.Buffer
	fw, err := flate.NewWriter(&comp, flate.BestCompression)
	require.NoError(t, err)
	_, err = fw.Write(plain)
	require.NoError(t, err)
	require.NoError(t, fw.Close())
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "bomb.json", Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(plain),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: 10})
	require.NoError(t, err)
	_, err = w.Write(comp.Bytes())
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func listTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	}))
	return out
}

func TestExtract(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		lim     Limits
		want    map[string]string
		skipped []string
		err     string
		isLimit bool
	}{
		{name: "files and folders", data: makeZip(t,
			entry{name: "infra/", mode: fs.ModeDir | 0o755},
			entry{name: "infra/main.bicep", body: "param p string"},
			entry{name: "/pipelines/deploy.yml", body: "steps: []"},
			entry{name: "README.md", body: "# hi"}),
			want: map[string]string{"infra/": "", "infra/main.bicep": "param p string", "pipelines/": "", "pipelines/deploy.yml": "steps: []", "README.md": "# hi"}},
		{name: "root folder entry is ignored", data: makeZip(t, entry{name: "/", mode: fs.ModeDir | 0o755}, entry{name: "a.json", body: "{}"}),
			want: map[string]string{"a.json": "{}"}},
		{name: "symbolic links are skipped", data: makeZip(t, entry{name: "link", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}, entry{name: "a.tf", body: "x"}),
			want: map[string]string{"a.tf": "x"}, skipped: []string{"link"}},
		{name: "parent traversal", data: makeZip(t, entry{name: "../evil.json", body: "x"}), err: "unsafe entry name"},
		{name: "nested traversal", data: makeZip(t, entry{name: "infra/../../evil.json", body: "x"}), err: "'..'"},
		{name: "absolute after the accepted slash", data: makeZip(t, entry{name: "//etc/evil", body: "x"}), err: "absolute"},
		{name: "backslash", data: makeZip(t, entry{name: `..\evil.json`, body: "x"}), err: "backslash"},
		{name: "drive letter", data: makeZip(t, entry{name: "C:/evil.json", body: "x"}), err: "drive letter"},
		{name: "control character", data: makeZip(t, entry{name: "a\nb.json", body: "x"}), err: "control character"},
		{name: "dot element", data: makeZip(t, entry{name: "./a.json", body: "x"}), err: "'.'"},
		{name: "duplicate file", data: makeZip(t, entry{name: "a.json", body: "1"}, entry{name: "a.json", body: "2"}), err: "twice"},
		{name: "too many entries", data: makeZip(t, entry{name: "a", body: "1"}, entry{name: "b", body: "2"}, entry{name: "c", body: "3"}),
			lim: Limits{MaxFiles: 2}, err: "3 entries", isLimit: true},
		{name: "too many bytes", data: makeZip(t, entry{name: "a", body: "12345"}, entry{name: "b", body: "67890"}),
			lim: Limits{MaxBytes: 8}, err: "limit of 8 bytes", isLimit: true},
		{name: "lying size header", data: lyingZip(t, 1<<20), err: "bomb.json"},
		{name: "not a zip", data: []byte("<html>sign in</html>"), err: "read the repository archive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st, err := Extract(bytes.NewReader(tc.data), int64(len(tc.data)), dir, tc.lim)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Equal(t, tc.isLimit, errors.Is(err, ErrLimit))
				// Nothing ever lands outside the folder.
				_, statErr := os.Stat(filepath.Join(filepath.Dir(dir), "evil.json"))
				assert.True(t, os.IsNotExist(statErr))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, listTree(t, dir))
			assert.Equal(t, tc.skipped, st.Skipped)
			files := 0
			var total int64
			for k, v := range tc.want {
				if !strings.HasSuffix(k, "/") {
					files++
					total += int64(len(v))
				}
			}
			assert.Equal(t, files, st.Files)
			assert.Equal(t, total, st.Bytes)
		})
	}
}

func TestEntryName(t *testing.T) {
	ok := map[string]string{"a": "a", "/a/b": "a/b", "a/b/": "a/b", "/": "", "x:y.json": "x:y.json", "a..b": "a..b"}
	keys := make([]string, 0, len(ok))
	for k := range ok {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, in := range keys {
		got, err := entryName(in)
		require.NoError(t, err, in)
		assert.Equal(t, ok[in], got, in)
	}
	for _, in := range []string{"", "..", "a/../b", "a//b", "\x00", strings.Repeat("a", 5000)} {
		_, err := entryName(in)
		assert.Error(t, err, "%q", in)
	}
}

// FuzzExtract feeds arbitrary archives to Extract: it must never panic, never write outside the
// folder, and never write more than the byte limit.
func FuzzExtract(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.zip")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(makeZip(f, entry{name: "a/b.json", body: "{}"}, entry{name: "../c", body: "x"}))
	f.Add(lyingZip(f, 4096))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "x")
		require.NoError(t, os.Mkdir(dir, 0o700))
		st, _ := Extract(bytes.NewReader(data), int64(len(data)), dir, Limits{MaxFiles: 50, MaxBytes: 1 << 16})
		assert.LessOrEqual(t, st.Bytes, int64(1<<16)+1)
		entries, err := os.ReadDir(parent)
		require.NoError(t, err)
		require.Len(t, entries, 1, "nothing beside the extraction folder")
	})
}
