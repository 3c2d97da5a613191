// Command hellohttp is the baseline of the API throughput figure: a
// net/http hello world listening on the address given as its argument.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hellohttp HOST:PORT")
		os.Exit(2)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Hello, world!\n"))
	})
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, "hellohttp:", err)
		os.Exit(1)
	}
}
