package image

import (
	"strings"
	"testing"
)

func TestParseChecksumFile(t *testing.T) {
	h1 := strings.Repeat("a", 64)
	h2 := strings.Repeat("b", 64)
	h5 := strings.Repeat("c", 32)
	tests := []struct {
		name, text string
		want       int // expected digest length, 0: any
		sum        string
		err        string
	}{
		{"bare", h1 + "\n", 64, h1, ""},
		{"bare without newline", "  " + h1, 0, h1, ""},
		{"gnu text", h2 + "  other.raw\n" + h1 + "  image.raw\n", 64, h1, ""},
		{"gnu binary", h1 + " *image.raw\n", 64, h1, ""},
		{"gnu tab", h1 + "\timage.raw\n", 64, h1, ""},
		{"dot slash", h1 + "  ./image.raw\n", 64, h1, ""},
		{"directory", h1 + "  out/x86_64/image.raw\n", 64, h1, ""},
		{"exact name wins", h2 + "  other/image.raw\n" + h1 + "  image.raw\n", 64, h1, ""},
		{"bsd", "SHA256 (image.raw) = " + h1 + "\n", 64, h1, ""},
		{"bsd dot slash", "SHA256 (./image.raw) = " + h1 + "\n", 64, h1, ""},
		{"bsd picks algorithm by length", "MD5 (image.raw) = " + h5 + "\nSHA256 (image.raw) = " + h1 + "\n", 64, h1, ""},
		{"comments and blank lines", "# generated\n\n" + h1 + "  image.raw\n\n", 64, h1, ""},
		{"windows line ends", h2 + "  other.raw\r\n" + h1 + "  image.raw\r\n", 64, h1, ""},
		{"similar name", h1 + "  image.raw.gz\n", 64, "", "does not contain name image.raw"},
		{"empty", " \n", 64, "", "empty checksum file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, err := parseChecksumFile(tt.text, "image.raw", tt.want)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %q, %v; want error %q", sum, err, tt.err)
				}
				return
			}
			if err != nil || sum != tt.sum {
				t.Fatalf("got %q, %v; want %q", sum, err, tt.sum)
			}
		})
	}
}

func TestImageFileName(t *testing.T) {
	tests := map[string]string{
		"http://h/a/b/image.raw":             "image.raw",
		"http://h/a/image%20one.raw?sig=x#f": "image one.raw",
		"https://h:8080/v1/AUTH/c/img.qcow2": "img.qcow2",
	}
	for u, want := range tests {
		if got := imageFileName(Info{URLs: []string{u}}); got != want {
			t.Errorf("imageFileName(%s) = %q, want %q", u, got, want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in          string
		first, size int64
		ok          bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 5-9/*", 5, -1, true},
		{"items 1-2/3", 0, 0, false},
		{"bytes x-1/2", 0, 0, false},
		{"bytes 1-2", 0, 0, false},
	}
	for _, tt := range tests {
		first, size, err := parseContentRange(tt.in)
		if (err == nil) != tt.ok || first != tt.first || size != tt.size {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", tt.in, first, size, err)
		}
	}
}
