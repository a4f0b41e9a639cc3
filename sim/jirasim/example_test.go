package jirasim_test

import (
	"fmt"

	"github.com/connect-doctor/connect-doctor/sim/jirasim"
)

func ExampleParseFault() {
	f, err := jirasim.ParseFault("rate-limit,count=3,retry-after=10s,app=my-app")
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Kind, f.Count, f.RetryAfter, f.AppKey)
	// Output: rate-limit 3 10s my-app
}
