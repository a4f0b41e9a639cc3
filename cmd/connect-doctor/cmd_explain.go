package main

import "fmt"

// Placeholder: the explainer's CLI replaces this file.

func runExplain(args []string, io stdio) int {
	fmt.Fprintln(io.err, "explain: not built yet")
	return 2
}
func runJWT(args []string, io stdio) int { fmt.Fprintln(io.err, "jwt: not built yet"); return 2 }
func runQSH(args []string, io stdio) int { fmt.Fprintln(io.err, "qsh: not built yet"); return 2 }
