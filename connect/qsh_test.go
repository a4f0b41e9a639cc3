package connect

import (
	"strings"
	"testing"
)

// officialVectors are Atlassian's QSH interoperability vectors
// (JwtSigningInteroperabilityTest), as listed in connect-protocol.md §1.c.
var officialVectors = []struct {
	name, method, uri, basePath, canonical, qsh string
}{
	{"Simple", "GET", `/test?param=value`, "", `GET&/test&param=value`, "be16910858a41fd19ea5c1b4e9decca9a784d1024cb00b2158defe2f29dc86dd"},
	{"Spaces", "GET", `/test?param=some+spaces+in+this+parameter`, "", `GET&/test&param=some%20spaces%20in%20this%20parameter`, "ef4097d05395eaf1a133956f140116a9c411afad768d4f06daac9e305764265d"},
	{"Asterisk", "GET", `/test?query=connect*`, "", `GET&/test&query=connect%2A`, "0d28bc10d1972d9cab59e123ce17976eb32aad6957a13cfb8b97ced6d3fc8a29"},
	{"Unicode", "GET", `/test?director=%E5%AE%AE%E5%B4%8E+%E9%A7%BF`, "", `GET&/test&director=%E5%AE%AE%E5%B4%8E%20%E9%A7%BF`, "44d6354ffe8f963972a7fc59e98b2c3dfe4b493295c5b89edd974a339e61ac89"},
	{"Comma-delimited", "GET", `/test?ids=10%2C2%2C20%2C1`, "", `GET&/test&ids=10%2C2%2C20%2C1`, "2e617b65f966650789990e5cac8ff295ee5b453834d04798f466ff6035bd8829"},
	{"Multi-value Comma-delimited", "GET", `/test?tuples=1%2C2%2C3&tuples=6%2C5%2C4&tuples=7%2C9%2C8`, "", `GET&/test&tuples=1%2C2%2C3,6%2C5%2C4,7%2C9%2C8`, "f9f62bb61191dff1b219e9ade8ac38fcfa46272ea76d9545410db6559fd8e7bd"},
	{"Plus", "GET", `/test?title=1+%2B+1+equals+3`, "", `GET&/test&title=1%20%2B%201%20equals%203`, "ce0a866ce0c34cbde70deb63f6915192f58500d2b49b12e1ffc8cdf91edabc91"},
	{"JSON Object", "GET", `/test?json=%7B%22key%22%3A%22value%22%7D`, "", `GET&/test&json=%7B%22key%22%3A%22value%22%7D`, "1d74c5a1f0a6c72a3ce285570cbfd8fe736910123e6ada203d4c7ba9a6128a6f"},
	{"JSON Array", "GET", `/test?json=%5B%22val1%22%2C%22val2%22%5D`, "", `GET&/test&json=%5B%22val1%22%2C%22val2%22%5D`, "5a69d35f16534290a4ed2f9e53a45e6872cf0c3a1163295c42947d42931a1f73"},
	{"Single Quotes", "GET", `/test?quote=%27quoted%27`, "", `GET&/test&quote=%27quoted%27`, "207a30376c594d5cde7b6e873b943f84798371d3293b7eac27e2c2a2a5d111d5"},
	{"Brackets", "GET", `/test?param=%28%29`, "", `GET&/test&param=%28%29`, "46b9787a8983560f446f82d6143122d99e153affd5688fa45343074a091573eb"},
	{"Tilde", "GET", `/test?eta=in+%7E3+days`, "", `GET&/test&eta=in%20~3%20days`, "5c5f97cdfe3abd8feb48f6f0240a71ef5c111289a5bf77ddf645250b3951ec63"},
	{"RFC-1738 Unsafe", "GET", `/test?rfc=+%3C%3E%22%23%25%7B%7D%7C%5C%5E%7E%5B%5D%60`, "", `GET&/test&rfc=%20%3C%3E%22%23%25%7B%7D%7C%5C%5E~%5B%5D%60`, "36ba39c5379d752bbef1349ba58df98ecaa456b78c7c2e3245e2f33eac712a49"},
	{"RFC-1738 Reserved", "GET", `/test?rfc=%3B%2F%3F%3A%40%3D%26`, "", `GET&/test&rfc=%3B%2F%3F%3A%40%3D%26`, "639330bc92d79373b198da697873b2f03f1a3a0c5af78cf8eea517f14960b150"},
	{"RFC-1738 Special", "GET", `/test?rfc=%24-_.%2B%21*%27%28%29%2C`, "", `GET&/test&rfc=%24-_.%2B%21%2A%27%28%29%2C`, "0e36229cc459ff8ccb4845c11433cfbbe25bfa45e8c1ea14d2a124231cb0a2e9"},
	{"RFC-3986 Unreserved", "GET", `/test?rfc=-._%7E`, "", `GET&/test&rfc=-._~`, "0ddf7e631c3b11e7975814ee84fec26804dc72b0a0e997871d8415cee6b78b31"},
	{"RFC-3986 gen-delims", "GET", `/test?rfc=%3A%2F%3F%23%5B%5D%40`, "", `GET&/test&rfc=%3A%2F%3F%23%5B%5D%40`, "96041ee45ad4b8ea29bce42f3e2835490591f55e84bddbbab82151d4a1ac1a11"},
	{"RFC-3986 sub-delims", "GET", `/test?rfc=%21%24%26%27%28%29*%2B%2C%3B%3D`, "", `GET&/test&rfc=%21%24%26%27%28%29%2A%2B%2C%3B%3D`, "b8d049874f1fe5abe274d20bdecebee8daada453191a827738eebcd759efd4e1"},
	{"Empty", "GET", `/test?notmuch=`, "", `GET&/test&notmuch=`, "20fecded9951516a3447b1b556d0eb350de29770505253a30dc739502e05ddc7"},
	{"Encoded", "GET", `/test?referrer=http%3A%2F%2Ffrom.net%2Fp%3Fx%3DA%2B%252B%2BB%26y%3D%2524-_.%252B%2521*%2527%2528%2529%252C`, "", `GET&/test&referrer=http%3A%2F%2Ffrom.net%2Fp%3Fx%3DA%2B%252B%2BB%26y%3D%2524-_.%252B%2521%2A%2527%2528%2529%252C`, "7ca81b8e4e83c2375eea7b8b50bd3786ba8b43261193a3bd3ccdfca06120ee33"},
	{"Multi-value", "GET", `/test?ids=-1&ids=1&ids=10&ids=2&ids=20`, "", `GET&/test&ids=-1,1,10,2,20`, "a646c48741faaeb649f9ca7888ae029ead432e3806f56c4a57b80b3e2ac628a9"},
	{"Multi-value II", "GET", `/test?ids=.1&ids=.2&ids=%3A1&ids=%3A2`, "", `GET&/test&ids=.1,.2,%3A1,%3A2`, "f0524d42e0f8661862e1f1e9add8757972a0043bb7136d641735d21874c5a056"},
	{"Multi-value Unicode", "GET", `/test?chars=%E5%AE%AE&chars=%E5%B4%8E&chars=%E9%A7%BF`, "", `GET&/test&chars=%E5%AE%AE,%E5%B4%8E,%E9%A7%BF`, "72a7f7ce9f93157f296b86338315423d6f3b6aba5081f04bbdb6bb18218b65ee"},
	{"Multi-value Empty", "GET", `/test?c=&c=+&c=%2520&c=%2B`, "", `GET&/test&c=,%20,%2520,%2B`, "cbbcac9a6a02f3ad96c5ab5bf876dd9f79b2c61ceec5660a1c9d73a3b102ec2c"},
	{"Key RFC-1738 Unsafe", "GET", `/test?%231=value`, "", `GET&/test&%231=value`, "eccb4a232d50ca41ac40398675b6487a711d9e972917d8a61cbc120f9fbda597"},
	{"Key RFC-1738 Reserved", "GET", `/test?%3A1=value`, "", `GET&/test&%3A1=value`, "6d823181a68a4952c75e4b51ad0b8d59e879859cdf977e7254545201bca8465d"},
	{"Key RFC-1738 Special", "GET", `/test?%241=value`, "", `GET&/test&%241=value`, "a9f61f1c8250ebfb9234654e71dec233c93c16a54fe30a649dfd65badf3c0171"},
	{"Multiple Parameters Simple", "GET", `/test?a=x&b=y`, "", `GET&/test&a=x&b=y`, "abd5de604b9d3cda44d3c7a9dd698a21259655394658a6642f87b9d825869460"},
	{"Multiple Multi-value Parameters", "GET", `/test?a=x1&a=x10&b=y1&b=y10`, "", `GET&/test&a=x1,x10&b=y1,y10`, "310ba3ff7e1e9a8cacd33dd6172501304bf325096d81ccad449465427e58a9c4"},
	{"Multiple Parameters Spaces", "GET", `/test?a=another+one&a=one+string&b=and+yet+more&b=more+here`, "", `GET&/test&a=another%20one,one%20string&b=and%20yet%20more,more%20here`, "700721e65385781fc1fa248220c75400f1e8a197c838ef1779f00b69bfa4a6ff"},
	{"Multiple Parameters Comma-delimited", "GET", `/test?a=1%2C2%2C3&a=4%2C5%2C6&b=a%2Cb%2Cc&b=d%2Ce%2Cf`, "", `GET&/test&a=1%2C2%2C3,4%2C5%2C6&b=a%2Cb%2Cc,d%2Ce%2Cf`, "06b76eb63acccce2356cdfc66f4abd1e3a061c0305c9fc76b616ae71fe3b6ab5"},
	{"Parameter Order", "GET", `/test?a10=1&a1=2&b1=3&b10=4`, "", `GET&/test&a1=2&a10=1&b1=3&b10=4`, "159cc3d3003f067c3ae263d19ded42dedd28221cce4d4757b13fc7722a24408f"},
	{"Upper- and Lower-case Parameters", "GET", `/test?A=A&a=a&b=b&B=B`, "", `GET&/test&A=A&B=B&a=a&b=b`, "539adc2b0aef2ec8659825893b8b92e6a53c9483e2150b8185b08490d8b6de60"},
	{"Search Request View", "GET", `/search-view?link=http%3A%2F%2Fion%3A2990%2Fjira%2Fsecure%2FIssueNavigator.jspa%3Freset%3Dtrue%26jqlQuery%3Dissuetype%2B%253D%2BBug&startIssue=0&totalIssues=2&endIssue=2&issues=issues%3DTEST-2%2CTEST-1&tz=Australia%2FSydney&loc=en-US&user_id=admin&user_key=admin&xdm_e=http%3A%2F%2Fion.local%3A2990&xdm_c=channel-acmodule-1564427223927602208&xdm_p=1&cp=jira&lic=none`, "", `GET&/search-view&cp=jira&endIssue=2&issues=issues%3DTEST-2%2CTEST-1&lic=none&link=http%3A%2F%2Fion%3A2990%2Fjira%2Fsecure%2FIssueNavigator.jspa%3Freset%3Dtrue%26jqlQuery%3Dissuetype%2B%253D%2BBug&loc=en-US&startIssue=0&totalIssues=2&tz=Australia%2FSydney&user_id=admin&user_key=admin&xdm_c=channel-acmodule-1564427223927602208&xdm_e=http%3A%2F%2Fion.local%3A2990&xdm_p=1`, "7ad7d7938eb7d6640aaf59e335e6e034dd4e5d8735a33e248e6a420a950e47fb"},
	{"BasePath only", "GET", `/test`, "", `GET&/test&`, "bad328fac990349a8c88393c1755bc4f984a9c387202229b8ed52e04ff7e9fec"},
	{"BasePath with Delimiter", "GET", `/endsWithDelimiter/?a=b`, "", `GET&/endsWithDelimiter&a=b`, "8f77c6a0e6bf25041121ee44480d3c97ae9cca4b7a007ea6e1d648d9a26e5d1d"},
	{"BasePath with Delimiter Only", "GET", `/endsWithDelimiter/`, "", `GET&/endsWithDelimiter&`, "4c799e91fc8e1be9b1f034f2191ae80cb2080b54a85e9a2464ad2f2115f8d987"},
	{"BasePath RFC3986 Unreserved", "GET", `/path-._~?a=b`, "", `GET&/path-._~&a=b`, "5d1574ea0fd8974fa4326d87b3efec74004bf13d35395599de425327178c173b"},
	{"BasePath RFC3986 Subdelimiters", "GET", `/path!$&'()*+,;=?a=b`, "", `GET&/path!$%26'()*+,;=&a=b`, "9ef803f9cb8dea4f7f875caff8d31e95962c6e8bd44d64a848d6ebb055b2144b"},
	{"Add-on baseUrl contains path", "GET", `/base/test?param=value`, "/base", `GET&/test&param=value`, "be16910858a41fd19ea5c1b4e9decca9a784d1024cb00b2158defe2f29dc86dd"}}

// unitVectors come from the atlassian-jwt-js suite and typical Jira calls.
var unitVectors = []struct {
	name, method, uri, basePath, canonical, qsh string
}{
	{"path only", "GET", "/path", "", "GET&/path&", "799be84a7fa35570087163c0cd9af3abff7ac05c2c12ba0bb1d7eebc984b3ac2"},
	{"no path", "GET", "", "", "GET&/&", "c88caad15a1c1a900b8ac08aa9686f4e8184539bea1deda36e2f649430df3239"},
	{"root", "GET", "/", "", "GET&/&", "c88caad15a1c1a900b8ac08aa9686f4e8184539bea1deda36e2f649430df3239"},
	{"lower-case method and repeated params", "get", "/path/to/service?zee_last=param&repeated=parameter%201&first=param&repeated=parameter%202&repeated=Parameter%202", "",
		"GET&/path/to/service&first=param&repeated=Parameter%202,parameter%201,parameter%202&zee_last=param", "9ae6056cf66c00e76fa15e66fd26091fecd7356eec2f2c30629835b656799f66"},
	{"base path removed", "get", "/base/path/to/service?zee_last=param&repeated=parameter%201&first=param&repeated=parameter%202&repeated=Parameter%202", "/base",
		"GET&/path/to/service&first=param&repeated=Parameter%202,parameter%201,parameter%202&zee_last=param", "9ae6056cf66c00e76fa15e66fd26091fecd7356eec2f2c30629835b656799f66"},
	{"keys without values", "GET", "/hello-world?a&b=foo&c", "", "GET&/hello-world&a=&b=foo&c=", "05a07346264b590803b827ab297a7fcb7e250fe5fa8c66187a9131b0934496b2"},
	{"ampersand in path", "POST", "/jira/rest/api/2/project/jira&a=b&c=d?x=y", "/jira", "POST&/rest/api/2/project/jira%26a=b%26c=d&x=y", "70db3b47a62c471526b51481ee17407771df153801674a5002c164e87ce056ae"},
	{"jwt parameter dropped", "GET", "/hello-world?lic=none&tz=Australia%2FSydney&cp=%2Fjira&user_key=&loc=en-US&user_id=&jwt=abc.def.ghi&xdm_e=http%3A%2F%2Fstorm%3A2990&xdm_c=channel-servlet-hello-world&xdm_p=1", "",
		"GET&/hello-world&cp=%2Fjira&lic=none&loc=en-US&tz=Australia%2FSydney&user_id=&user_key=&xdm_c=channel-servlet-hello-world&xdm_e=http%3A%2F%2Fstorm%3A2990&xdm_p=1", "8063ff4ca1e41df7bc90c8ab6d0f6207d491cf6dad7c66ea797b4614b71922e9"},
	{"POST without body params", "POST", "/hello-world", "", "POST&/hello-world&", "6f95f3738e1b037a3bebbe0ad237d80fdbc1d5ae452e98ce03a9c004c178ebb4"},
	{"myself", "GET", "/rest/api/3/myself", "", "GET&/rest/api/3/myself&", "c790e863cecddbf1369d5e058d5f71d9d19741a497a6e4681351909109759513"},
	{"search", "GET", "/rest/api/3/search?jql=project%20%3D%20TEST&maxResults=50&fields=summary,status", "",
		"GET&/rest/api/3/search&fields=summary%2Cstatus&jql=project%20%3D%20TEST&maxResults=50", "da2b195781b926d0ae1f87542bc5c769f9e741b4c37ce6b4544e5cb56999b1ef"},
	{"create issue", "POST", "/rest/api/3/issue", "", "POST&/rest/api/3/issue&", "a64b1ba2731272596784da7588c6e16deb1619108576546ab4299429d981f400"},
	{"expand list", "GET", "/rest/api/2/issue/TEST-1?expand=names,renderedFields", "", "GET&/rest/api/2/issue/TEST-1&expand=names%2CrenderedFields", "0e908f150c46c2c3a216465221e4191b2e090d3bfc0e5f8fcd0bc7b081dfe33e"},
	{"trailing slash", "GET", "/rest/api/3/project/", "", "GET&/rest/api/3/project&", "a826a6d81661bd0c8ae663bb9a9ba8c7e8206902eae02b64a00242f6640b5907"},
	{"case-sensitive sort", "GET", "/x?b=2&B=1&a=3", "", "GET&/x&B=1&a=3&b=2", "177ad018e64340a4754c2ca71b2ee3048bee50a6a59ab4cf2b3c3c92541fa258"},
	{"installed", "POST", "/installed", "", "POST&/installed&", "4a2e1de8ca74e6cafe8862d332fa3ac7a8e51e692bc6d798ea4dfedc14948bf4"},
	{"installed under app base", "POST", "/app/installed", "/app", "POST&/installed&", "4a2e1de8ca74e6cafe8862d332fa3ac7a8e51e692bc6d798ea4dfedc14948bf4"},
	{"uninstalled", "POST", "/uninstalled", "", "POST&/uninstalled&", "8a8d06f040b246544d605b08aeb419e30b5cf0e200f512888486585ecce6a52e"},
	{"confluence wiki", "GET", "/wiki/rest/api/space", "/wiki", "GET&/rest/api/space&", "c8483d04d4d62762cf010a238bc611e55970256bf528162d23a4999abc3553b2"},
	{"absolute URL", "GET", "https://example.atlassian.net/rest/api/3/myself", "", "GET&/rest/api/3/myself&", "c790e863cecddbf1369d5e058d5f71d9d19741a497a6e4681351909109759513"},
}

func TestCanonicalRequestVectors(t *testing.T) {
	for _, set := range []struct {
		name string
		vecs []struct{ name, method, uri, basePath, canonical, qsh string }
	}{{"official", officialVectors}, {"unit", unitVectors}} {
		for _, v := range set.vecs {
			t.Run(set.name+"/"+v.name, func(t *testing.T) {
				got := CanonicalRequest(v.method, v.uri, v.basePath)
				if got != v.canonical {
					t.Fatalf("canonical:\n got %s\nwant %s", got, v.canonical)
				}
				if h := QSH(got); h != v.qsh {
					t.Fatalf("qsh: got %s want %s", h, v.qsh)
				}
				if h := RequestQSH(v.method, v.uri, v.basePath); h != v.qsh {
					t.Fatalf("RequestQSH: got %s want %s", h, v.qsh)
				}
			})
		}
	}
	if n := len(officialVectors); n != 40 {
		t.Fatalf("expected the 40 official vectors, have %d", n)
	}
}

func TestCanonicalURIBasePathBoundary(t *testing.T) {
	tests := []struct{ name, path, base, want string }{
		{"base is a prefix of a longer segment", "/basement/x", "/base", "/basement/x"},
		{"base with trailing slash", "/base/x", "/base/", "/x"},
		{"base only", "/base", "/base", "/"},
		{"no leading slash", "x/y", "", "/x/y"},
		{"encoded path kept", "/a%20b/c", "", "/a%20b/c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanonicalURI(tt.path, tt.base); got != tt.want {
				t.Fatalf("got %q want %q", got, tt.want)
			}
		})
	}
}

func TestCanonicalQueryMalformedEscapes(t *testing.T) {
	// A malformed escape must not fail or panic; it is kept verbatim and encoded.
	got := CanonicalQuery("a=%zz&b=1")
	if !strings.HasPrefix(got, "a=%25zz") || !strings.HasSuffix(got, "&b=1") {
		t.Fatalf("got %q", got)
	}
}

func FuzzCanonicalRequest(f *testing.F) {
	for _, v := range officialVectors {
		f.Add(v.method, v.uri)
	}
	f.Add("POST", "/a&b/?x=1&x=2&jwt=t&y")
	f.Add("get", "/%zz?%zz=%zz&+=+")
	f.Fuzz(func(t *testing.T, method, uri string) {
		c := CanonicalRequest(method, uri, "")
		if strings.Count(c, "&") < 2 {
			t.Fatalf("canonical %q lacks its separators", c)
		}
		path, query, _ := strings.Cut(uri, "?")
		// Parameter order is irrelevant.
		parts := strings.Split(query, "&")
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		if r := CanonicalRequest(method, path+"?"+strings.Join(parts, "&"), ""); !strings.Contains(uri, "#") && r != c {
			t.Fatalf("order changed the result: %q vs %q", r, c)
		}
		// The jwt parameter never counts.
		if r := CanonicalRequest(method, path+"?"+query+"&jwt=x.y.z", ""); !strings.Contains(uri, "#") && r != c {
			t.Fatalf("jwt parameter changed the result: %q vs %q", r, c)
		}
	})
}

func BenchmarkCanonicalRequestQSH10Params(b *testing.B) {
	uri := "/rest/api/3/search?jql=project%20%3D%20TEST&maxResults=50&fields=summary,status&startAt=0&expand=names&validateQuery=strict&properties=a&fieldsByKeys=false&reconcileIssues=1&x=y"
	b.ReportAllocs()
	for b.Loop() {
		_ = RequestQSH("GET", uri, "")
	}
}
