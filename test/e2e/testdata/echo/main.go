// Command echo stands in for a gate binary in the launcher tests: it prints what the launcher
// passed on (INPUT_*, ENDPOINT_*, SECRET_* variables and arguments) and exits as told.
//
//	ECHO_EXIT_CODE=3      exit with 3 (default 0)
//	ECHO_WAIT=handle      print "ready <pid>", wait for SIGINT/SIGTERM, print it, exit with ECHO_EXIT_CODE
//	ECHO_WAIT=die         print "ready <pid>" and block with default signal handling (a signal kills it)
package main

import (
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var vars []string
	for _, kv := range os.Environ() {
		for _, prefix := range []string{"INPUT_", "ENDPOINT_", "SECRET_"} {
			if strings.HasPrefix(kv, prefix) {
				vars = append(vars, kv)
			}
		}
	}
	sort.Strings(vars)
	for _, kv := range vars {
		fmt.Println("env", kv)
	}
	fmt.Printf("args %q\n", os.Args[1:])
	code, _ := strconv.Atoi(os.Getenv("ECHO_EXIT_CODE"))

	switch os.Getenv("ECHO_WAIT") {
	case "handle":
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		fmt.Println("ready", os.Getpid())
		fmt.Println("got", <-sigs)
	case "die":
		fmt.Println("ready", os.Getpid())
		time.Sleep(time.Hour) // a bare select{} would be reported as a deadlock

	}
	os.Exit(code)
}
