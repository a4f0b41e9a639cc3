package main

import "fmt"

// Placeholder: the catalog's CLI replaces this file.

func runEndpoints(args []string, io stdio) int {
	fmt.Fprintln(io.err, "endpoints: not built yet")
	return 2
}
func runEndpoint(args []string, io stdio) int {
	fmt.Fprintln(io.err, "endpoint: not built yet")
	return 2
}
func runScopes(args []string, io stdio) int { fmt.Fprintln(io.err, "scopes: not built yet"); return 2 }
func runCatalog(args []string, io stdio) int {
	fmt.Fprintln(io.err, "catalog: not built yet")
	return 2
}
