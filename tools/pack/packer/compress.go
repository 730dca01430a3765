package packer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/andybalholm/brotli"
)

const (
	// Quality 11 with the largest standard window (16 MiB) makes binaries about a third of
	// their size. Node's zlib.brotliDecompressSync reads it with no options; the large-window
	// extension would need a decoder flag Node 10 lacks, and this encoder cannot write it.
	brotliQuality = 11
	brotliWindow  = 24
	// cacheKeyVersion changes whenever the compression settings do, so old entries are never
	// mistaken for new ones.
	cacheKeyVersion = "q11w24"
	cacheMaxAge     = 30 * 24 * time.Hour
)

// Compress returns data brotli-compressed at the best quality, as the launcher expects.
func Compress(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: brotliQuality, LGWin: brotliWindow})
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("brotli compress: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("brotli compress: %w", err)
	}
	return buf.Bytes(), nil
}

// Decompress reverses Compress.
func Decompress(data []byte) ([]byte, error) {
	out, err := io.ReadAll(brotli.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil, fmt.Errorf("brotli decompress: %w", err)
	}
	return out, nil
}

// compressCache keeps compressed binaries by the hash of their content: quality 11 takes
// tens of seconds per binary, and an unchanged binary (reproducible with -trimpath) always
// compresses to the same bytes. An empty dir disables it.
type compressCache struct {
	dir string
}

func (c compressCache) path(raw []byte) string {
	sum := sha256.Sum256(raw)
	return filepath.Join(c.dir, hex.EncodeToString(sum[:])+"-"+cacheKeyVersion+".br")
}

// compress returns raw compressed, from the cache when possible, and always verifies that
// the result unpacks to raw: a damaged cache entry or an encoder bug must not ship.
func (c compressCache) compress(raw []byte) (packed []byte, cached bool, err error) {
	if c.dir != "" {
		if data, err := os.ReadFile(c.path(raw)); err == nil {
			if out, err := Decompress(data); err == nil && bytes.Equal(out, raw) {
				now := time.Now()
				_ = os.Chtimes(c.path(raw), now, now) // keeps the entry from being pruned
				return data, true, nil
			}
		}
	}
	packed, err = Compress(raw)
	if err != nil {
		return nil, false, err
	}
	out, err := Decompress(packed)
	if err != nil {
		return nil, false, fmt.Errorf("verify compressed binary: %w", err)
	}
	if !bytes.Equal(out, raw) {
		return nil, false, errors.New("verify compressed binary: it does not unpack to the original")
	}
	if c.dir != "" {
		if err := c.store(raw, packed); err != nil {
			return nil, false, err
		}
	}
	return packed, false, nil
}

func (c compressCache) store(raw, packed []byte) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("compression cache: %w", err)
	}
	tmp, err := os.CreateTemp(c.dir, "tmp-*")
	if err != nil {
		return fmt.Errorf("compression cache: %w", err)
	}
	_, werr := tmp.Write(packed)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("compression cache: write %s: %w", tmp.Name(), errors.Join(werr, cerr))
	}
	// Rename is atomic: a concurrent pack reads the old entry, the new one or none.
	if err := os.Rename(tmp.Name(), c.path(raw)); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("compression cache: %w", err)
	}
	return nil
}

// prune removes entries unused for cacheMaxAge so the cache does not grow without bound.
func (c compressCache) prune(now time.Time) error {
	if c.dir == "" {
		return nil
	}
	entries, err := os.ReadDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("compression cache: %w", err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || e.IsDir() {
			continue
		}
		if now.Sub(info.ModTime()) > cacheMaxAge {
			if err := os.Remove(filepath.Join(c.dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("compression cache: %w", err)
			}
		}
	}
	return nil
}

// DefaultCacheDir is where compressed binaries are kept between builds, beside Go's own
// build cache.
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "stagegate", "pack")
}
