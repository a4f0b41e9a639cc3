package main

import "fmt"

func runServe(args []string, io stdio) int {
	fmt.Fprintln(io.err, "serve: not wired yet")
	return 1
}
