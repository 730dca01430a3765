//go:build unix

package evidence

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/gaterun"
)

// outsideSecret sits outside the scanned root; a link that was followed would show it.
const outsideSecret = "Xk4pQ9rTz2LmW7vB"

// platformHostileCases need symbolic links and FIFOs.
func platformHostileCases() []hostileCase {
	return []hostileCase{
		{name: "symbolic links to outside the root", code: gaterun.ExitViolated, exact: true,
			files: map[string]string{"inside.bicep": "param adminPassword string = '" + literalPW + "'\n"},
			setup: func(t *testing.T, dir string) {
				outside := t.TempDir()
				secret := filepath.Join(outside, "secret.json")
				require.NoError(t, os.WriteFile(secret, []byte(`{"Db": "Server=tcp:x.database.windows.net;Password=`+outsideSecret+`;"}`), 0o644))
				require.NoError(t, os.WriteFile(filepath.Join(outside, "main.bicep"), []byte("param adminPassword string = '"+outsideSecret+"'\n"), 0o644))
				require.NoError(t, os.Symlink(secret, filepath.Join(dir, "linked.json")))
				require.NoError(t, os.Symlink(outside, filepath.Join(dir, "linkdir")))
				require.NoError(t, os.Symlink("..", filepath.Join(dir, "parent")))
				require.NoError(t, os.Symlink(".", filepath.Join(dir, "self")))
			},
			issues: []issue{{code: "KV003", path: "inside.bicep", line: 1, col: 7}},
			logs: []string{
				"did not follow 3 symbolic links pointing outside rootDirectory: linkdir, linked.json, parent",
				"did not follow 1 symbolic link inside rootDirectory",
			}},
		{name: "a file name with a newline and terminal escapes", code: gaterun.ExitViolated, exact: true,
			files:  map[string]string{"evil\x1b]0;owned\x07\x1b[2J\nname.bicep": "param adminPassword string = '" + literalPW + "'\n"},
			issues: []issue{{code: "KV003", path: "evil\x1b]0;owned\x07\x1b[2J\nname.bicep", line: 1, col: 7}}},
		{name: "a FIFO named like a template", code: gaterun.ExitViolated, exact: true,
			files: map[string]string{"other.bicep": "param adminPassword string = '" + literalPW + "'\n"},
			setup: func(t *testing.T, dir string) {
				// Opening a FIFO for reading blocks until a writer comes: a scanner that opened it
				// would hang until the deadline.
				require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "main.json"), 0o644))
			},
			issues: []issue{{code: "KV003", path: "other.bicep", line: 1, col: 7}},
			// Not opened, but named: nothing is skipped silently.
			logs: []string{"##[warning]did not read 1 special file (pipe, device or socket) matching the include globs: main.json"}},
	}
}

// longPathTree builds a folder whose absolute path is longer than the system allows (PATH_MAX),
// through os.Root, which creates one component at a time. Reading it fails even as root, unlike
// a permission-denied file.
func longPathTree(t *testing.T, dir string) string {
	t.Helper()
	root, err := os.OpenRoot(dir)
	require.NoError(t, err)
	defer root.Close()
	p := ""
	for i := 0; i < 24; i++ {
		p = filepath.Join(p, strings.Repeat("d", 200))
		require.NoError(t, root.Mkdir(p, 0o755))
	}
	f, err := root.Create(filepath.Join(p, "main.json"))
	require.NoError(t, err)
	_, err = f.WriteString("{}")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return filepath.ToSlash(p)
}

// platformFileFaults: a folder whose path is too long to read (ENAMETOOLONG), which works as
// root, where a permission-denied file would not.
func platformFileFaults() []kvFault {
	return []kvFault{{name: "folder too deep to read", text: "cannot read: open: file name too long",
		files: map[string]string{"ok.bicep": "param location string\n"},
		// The walk reports the first folder on the way whose path is too long to open.
		setup: longPathTree}}
}
