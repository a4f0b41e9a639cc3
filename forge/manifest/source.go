package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// MaxDescriptorBytes bounds a descriptor read from disk or the network.
const MaxDescriptorBytes = 4 << 20

// DescriptorNames are the file names LoadDescriptor looks for in a
// directory, and skipDirs the directories it does not descend into.
var (
	DescriptorNames = []string{"atlassian-connect.json", "atlassian-connect.json5"}
	skipDirs        = []string{".git", "node_modules", "target", "build", "dist", "out", "vendor", ".idea", ".gradle", "coverage"}
)

// ErrSource is wrapped by every LoadDescriptor error.
var ErrSource = errors.New("descriptor source")

// SourceOptions tune LoadDescriptor.
type SourceOptions struct {
	// Client fetches URLs; nil uses a client with Timeout.
	Client  *http.Client
	Timeout time.Duration // default 15 s
	// MaxBytes bounds the descriptor; default MaxDescriptorBytes.
	MaxBytes int64
	// MaxDepth bounds the directory search; default 6.
	MaxDepth int
}

// LoadDescriptor reads a descriptor from src: an http(s) URL (the running
// app's descriptor, e.g. https://app.example.com/atlassian-connect.json), a
// file, or a directory holding exactly one atlassian-connect.json(5) (a
// project checkout: ACE keeps it at the top, Spring Boot under
// src/main/resources). It returns the bytes and where they came from.
func LoadDescriptor(ctx context.Context, src string, o SourceOptions) ([]byte, string, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = MaxDescriptorBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 6
	}
	if u, err := url.Parse(src); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		b, err := fetchDescriptor(ctx, u, o)
		return b, src, err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrSource, err)
	}
	file := src
	if fi.IsDir() {
		if file, err = findDescriptor(src, o.MaxDepth); err != nil {
			return nil, "", err
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrSource, err)
	}
	defer f.Close()
	b, err := readBounded(f, o.MaxBytes)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: %v", ErrSource, file, err)
	}
	return b, file, nil
}

func readBounded(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes: not a descriptor", max)
	}
	return b, nil
}

func fetchDescriptor(ctx context.Context, u *url.URL, o SourceOptions) ([]byte, error) {
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: o.Timeout}
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: %s: no answer within %s", ErrSource, u.Redacted(), o.Timeout)
		}
		return nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s (want 200 with the descriptor)", ErrSource, u.Redacted(), resp.Status)
	}
	b, err := readBounded(resp.Body, o.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSource, u.Redacted(), err)
	}
	return b, nil
}

// findDescriptor returns the one descriptor under dir.
func findDescriptor(dir string, maxDepth int) (string, error) {
	var found []string
	root := filepath.Clean(dir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable entries are skipped
		}
		if d.IsDir() {
			depth := strings.Count(strings.TrimPrefix(p, root), string(filepath.Separator))
			if p != root && (slices.Contains(skipDirs, d.Name()) || depth > maxDepth) {
				return filepath.SkipDir
			}
			return nil
		}
		if slices.Contains(DescriptorNames, d.Name()) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrSource, err)
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: no %s under %s", ErrSource, strings.Join(DescriptorNames, " or "), dir)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w: %d descriptors under %s (%s): name the file", ErrSource, len(found), dir, strings.Join(found, ", "))
}
