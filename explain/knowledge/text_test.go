package knowledge

import (
	"strings"
	"testing"
)

func TestTextContains(t *testing.T) {
	body := strings.Repeat("<div class=\"row\"><p>lorem ipsum dolor sit amet</p></div>\n", 40) + "<p>sorry, you have been blocked</p>"
	tests := []struct {
		name, s, needle string
		want            bool
	}{
		{"indexed hit", body, "you have been blocked", true},
		{"miss whose words both occur", body, "ipsum lorem", false},
		{"indexed miss", body, "xsrf check failed", false},
		{"short needle", body, "<p", true},
		{"empty needle", body, "", true},
		{"short text", "xsrf check failed", "check", true},
		{"short text miss", "xsrf check failed", "checks", false},
		{"needle longer than text", "abc", "abcd", false},
		{"utf-8", strings.Repeat("é", 400) + "zugriff verweigert", "zugriff verweigert", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewText(tc.s).Contains(tc.needle); got != tc.want {
				t.Fatalf("Contains(%q) = %v, want %v", tc.needle, got, tc.want)
			}
		})
	}
	if NewText(body).idx == nil || NewText("short").idx != nil {
		t.Fatal("index built below or missing above indexMin")
	}
	var nilText *Text
	if nilText.Contains("a") || !nilText.Contains("") || nilText.String() != "" {
		t.Fatal("a nil Text is the empty text")
	}
	if n, ok := NewText(body).ContainsAny("xsrf", "been blocked"); !ok || n != "been blocked" {
		t.Fatalf("ContainsAny = %q, %v", n, ok)
	}
}

// FuzzText: the indexed search answers exactly as strings.Contains, for
// indexed and unindexed texts alike.
func FuzzText(f *testing.F) {
	f.Add("sorry, you have been blocked", "been blocked", 0)
	f.Add("error code: 1020", "error code: 1010", 1)
	f.Add("missing scope grants", "scope", 3)
	f.Add("\x00\xff\xfeabc", "\xff\xfea", 2)
	f.Add("", "", 0)
	f.Add("aaaa", "aaaaa", 5)
	f.Fuzz(func(t *testing.T, s, needle string, repeat int) {
		if repeat < 0 || repeat > 64 || len(s)*repeat > 8<<10 {
			return
		}
		if repeat > 0 {
			s = strings.Repeat(s, repeat)
		}
		want := strings.Contains(s, needle)
		for _, min := range []int{0, 3, indexMin} {
			if got := newText(s, min).Contains(needle); got != want {
				t.Fatalf("newText(%q, %d).Contains(%q) = %v, strings.Contains = %v", s, min, needle, got, want)
			}
		}
	})
}
