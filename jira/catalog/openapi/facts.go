package openapi

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// The facts extract (jira/catalog/inputs/jira-openapi-facts.json.gz) keeps
// in the repository what the catalog generator takes from the specs: per
// operation the API, method, path, operationId, scopes, flags and
// permission facts, and per spec its name, version and hash. No prose is
// kept. `catalog-gen -extract` writes it from the specs in ../shared;
// `go generate ./jira/catalog` builds catalog.json from it, so a clone
// without ../shared regenerates the catalog identically.

// WriteFacts writes the facts extract: gzip-compressed JSON in the
// catalog's file form, byte for byte the same for the same facts.
func WriteFacts(w io.Writer, sources []catalog.Source, ops []catalog.Operation) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	if err := catalog.Write(zw, sources, ops); err != nil {
		return err
	}
	return zw.Close()
}

// ReadFacts reads an extract written by WriteFacts.
func ReadFacts(r io.Reader) ([]catalog.Operation, []catalog.Source, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("facts extract: %w", err)
	}
	defer zr.Close()
	var f catalog.File
	if err := json.NewDecoder(zr).Decode(&f); err != nil {
		return nil, nil, fmt.Errorf("facts extract: %w", err)
	}
	if len(f.Operations) == 0 {
		return nil, nil, fmt.Errorf("facts extract: no operations")
	}
	return f.Operations, f.Sources, nil
}
