package instance

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"regexp"
)

// validName is what a name may be: it is a directory name and appears in
// shell commands, so no slashes, no spaces, no leading dot or dash.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// MaxNameLen bounds names (they are file names; 64 leaves room for the
// temporary names made from them).
const MaxNameLen = 64

// CheckName returns an error for a name an instance cannot have.
func CheckName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("instance name %q is too long (at most %d characters)", name, MaxNameLen)
	}
	if !validName.MatchString(name) {
		return fmt.Errorf("instance name %q is not valid: use letters, digits, _ . and -, starting with a letter or digit", name)
	}
	return nil
}

// Two short word lists for generated names: easier to type and to tell
// apart in mote ps than hex (40*40 = 1600 names; on collision
// GenerateName is asked again, and a hex suffix ends a long streak).
var (
	adjectives = []string{
		"amber", "bold", "brave", "brisk", "calm", "clever", "cool", "crisp",
		"eager", "fair", "fast", "fond", "glad", "grand", "green", "happy",
		"jolly", "keen", "kind", "light", "lucky", "merry", "mild", "neat",
		"nice", "noble", "proud", "quick", "quiet", "rapid", "sharp", "shy",
		"silent", "smart", "snowy", "sunny", "swift", "tidy", "warm", "witty",
	}
	nouns = []string{
		"badger", "bear", "beaver", "bison", "crane", "crow", "deer", "dove",
		"eagle", "falcon", "ferret", "finch", "fox", "gecko", "goose", "hare",
		"hawk", "heron", "ibis", "koala", "lark", "lemur", "lynx", "marten",
		"mink", "moose", "newt", "otter", "owl", "panda", "quail", "raven",
		"robin", "seal", "shrew", "stoat", "swan", "tapir", "toad", "wolf",
	}
)

// generateName returns a random name such as "brave-otter"; with attempt
// past a few collisions it returns "mote-<6 hex digits>" instead.
func generateName(attempt int) string {
	if attempt < 8 {
		return pick(adjectives) + "-" + pick(nouns)
	}
	var b [3]byte
	rand.Read(b[:])
	return "mote-" + hex.EncodeToString(b[:])
}

func pick(words []string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
	if err != nil {
		return words[0]
	}
	return words[n.Int64()]
}
