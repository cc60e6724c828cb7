// Command imagetags prints the content tag of every service's image as JSON, for CI: run from
// the project root, it prints [{"service":"identity","tag":"sha-…"},…], the tags the program
// itself would build under (platform.ImageTags).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/groundwork/groundwork/platform"
)

func main() {
	dir := flag.String("services", "services", "the folder of the domain services")
	flag.Parse()
	tags, err := platform.ImageTags(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagetags:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(tags); err != nil {
		fmt.Fprintln(os.Stderr, "imagetags:", err)
		os.Exit(1)
	}
}
