package main

// Group commands run through the dispatcher, as a user types them.
func runScopes(args []string, std stdio) int  { return run(append([]string{"scopes"}, args...), std) }
func runCatalog(args []string, std stdio) int { return run(append([]string{"catalog"}, args...), std) }
