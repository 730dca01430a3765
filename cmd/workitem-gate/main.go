// Command workitem-gate is a placeholder until its gate lands: it fails closed instead of pretending to pass.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("##vso[task.logissue type=error]workitem-gate is not implemented yet")
	fmt.Println("##vso[task.complete result=Failed]workitem-gate is not implemented yet")
	os.Exit(1)
}
