package scope

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Scope
		wantErr bool
	}{
		{"READ", Read, false},
		{"read", Read, false},
		{" act_as_user ", ActAsUser, false},
		{"project-admin", ProjectAdmin, false},
		{"Admin", Admin, false},
		{"inaccessible", Inaccessible, false},
		{"SUPERUSER", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrUnknown) {
					t.Fatalf("want ErrUnknown, got %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	tests := []struct {
		name     string
		declared string
		required Scope
		want     bool
	}{
		{"admin implies project admin", "ADMIN", ProjectAdmin, true},
		{"admin implies read", "admin", Read, true},
		{"delete implies write", "DELETE", Write, true},
		{"write does not imply delete", "WRITE", Delete, false},
		{"read does not imply admin", "READ,ACT_AS_USER", Admin, false},
		{"act as user is separate", "ADMIN", ActAsUser, false},
		{"act as user declared", "READ ACT_AS_USER", ActAsUser, true},
		{"email separate", "ADMIN", AccessEmailAddresses, false},
		{"none always", "", None, true},
		{"inaccessible never", "ADMIN,ACT_AS_USER,ACCESS_EMAIL_ADDRESSES", Inaccessible, false},
		{"space admin does not imply project admin", "SPACE_ADMIN", ProjectAdmin, false},
		{"space admin implies delete", "SPACE_ADMIN", Delete, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseSet(tt.declared)
			if err != nil {
				t.Fatal(err)
			}
			if got := set.Allows(tt.required); got != tt.want {
				t.Fatalf("%v.Allows(%s) = %v", set, tt.required, got)
			}
		})
	}
}

func TestMinimal(t *testing.T) {
	tests := []struct {
		name            string
		required        []Scope
		want            []string
		wantUnreachable int
	}{
		{"reads only", []Scope{Read, Read, None}, []string{"READ"}, 0},
		{"read and admin", []Scope{Read, Admin}, []string{"ADMIN"}, 0},
		{"write and act as user", []Scope{Write, ActAsUser, Read}, []string{"WRITE", "ACT_AS_USER"}, 0},
		{"inaccessible reported", []Scope{Read, Inaccessible}, []string{"READ"}, 1},
		{"nothing needed", []Scope{None}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, un := Minimal(tt.required)
			if got := set.Strings(); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("Minimal = %v, want %v", got, tt.want)
			}
			if len(un) != tt.wantUnreachable {
				t.Fatalf("unreachable = %v", un)
			}
			for _, r := range tt.required {
				if r != Inaccessible && !set.Allows(r) {
					t.Fatalf("minimal set %v does not allow %s", set, r)
				}
			}
		})
	}
}

func ExampleSet_Allows() {
	declared, _ := ParseSet("read,act_as_user")
	fmt.Println(declared.Allows(Read), declared.Allows(Admin))
	// Output: true false
}
