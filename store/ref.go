package store

import (
	"fmt"
	"regexp"
	"strings"
)

// Names are lowercase, as docker's: they appear in shell commands and
// scripts, and mote images would be confusing with Web and web both in it.
// They have no slash or colon, so NAME:TAG splits at the colon and a name
// never looks like a path to mote run.
var (
	validName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	validTag  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
)

// MaxNameLen bounds names (a reference stays a sensible file name and
// line in mote images).
const MaxNameLen = 128

// minPrefix is the shortest digest prefix a reference may use: 12 hex
// digits, as mote images shows them.
const minPrefix = 12

// CheckName returns an error for a name an image cannot have.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("empty image name")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("image name %q is too long (at most %d characters)", name, MaxNameLen)
	}
	if !validName.MatchString(name) {
		return fmt.Errorf("image name %q is not valid: use lowercase letters, digits, _ . and -, starting with a letter or digit", name)
	}
	return nil
}

// CheckTag returns an error for a tag an image cannot have.
func CheckTag(tag string) error {
	if !validTag.MatchString(tag) {
		return fmt.Errorf("image tag %q is not valid: use up to 128 letters, digits, _ . and -, not starting with . or -", tag)
	}
	return nil
}

// ParseName splits "NAME[:TAG]" (as given to mote build -t) and checks
// both parts; the tag defaults to DefaultTag.
func ParseName(ref string) (name, tag string, err error) {
	name, tag, hasTag := strings.Cut(ref, ":")
	if !hasTag {
		tag = DefaultTag
	}
	if err := CheckName(name); err != nil {
		return "", "", err
	}
	if err := CheckTag(tag); err != nil {
		return "", "", err
	}
	return name, tag, nil
}

// SanitizeName turns a file name into a valid image name (for images
// built without -t): lowercase, other characters replaced by '-'. It
// returns "image" if nothing usable is left.
func SanitizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	n := strings.TrimLeft(b.String(), "._-")
	if len(n) > MaxNameLen {
		n = n[:MaxNameLen]
	}
	if n == "" {
		return "image"
	}
	return n
}

// reference is a parsed image reference: a name and tag, a digest prefix,
// or (bare hex) possibly either.
type reference struct {
	name, tag string // valid name and tag, or ""
	prefix    string // lowercase hex digest (prefix), or ""
	explicit  bool   // "sha256:" was written: a digest only
}

// parseRef parses NAME, NAME:TAG, sha256:HEX or HEX (12 to 64 digits).
// Bare hex that is also a valid name is tried as a name first, then as
// a digest.
func parseRef(ref string) (reference, error) {
	if h, ok := strings.CutPrefix(ref, algo+":"); ok {
		h = strings.ToLower(h)
		if len(h) < minPrefix || len(h) > 64 || !isHex(h) {
			return reference{}, fmt.Errorf("invalid digest %q: want sha256: and 12 to 64 hex digits", ref)
		}
		return reference{prefix: h, explicit: true}, nil
	}
	var r reference
	if len(ref) >= minPrefix && len(ref) <= 64 && isHex(ref) {
		r.prefix = strings.ToLower(ref)
	}
	name, tag, err := ParseName(ref)
	if err == nil {
		r.name, r.tag = name, tag
	} else if r.prefix == "" {
		return reference{}, fmt.Errorf("invalid reference %q: %v", ref, err)
	}
	return r, nil
}

// IsReference reports whether s has the form of an image reference (it
// may still name nothing in the store).
func IsReference(s string) bool {
	_, err := parseRef(s)
	return err == nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
