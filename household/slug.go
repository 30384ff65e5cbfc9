package household

import "strings"

// Slug turns a person's name into a recipient name ValidName
// accepts: lower case, common Latin letters with diacritics folded to plain
// ones, each run of other characters than a-z, 0-9, _ and - made one _,
// with none at either end, and at most MaxNameLen long. A name with
// nothing left is "person".
func Slug(name string) string {
	var b strings.Builder
	for _, r := range latinFold.Replace(strings.ToLower(name)) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	s := strings.Trim(b.String(), "_-")
	s = strings.TrimRight(s[:min(len(s), MaxNameLen)], "_-")
	if s == "" {
		return "person"
	}
	return s
}

// latinFold spells the lower-case letters of Europe's Latin alphabets with
// a-z, so that Zoë is zoe and Straße strasse rather than zo_ and stra_e.
var latinFold = strings.NewReplacer(
	"à", "a", "á", "a", "â", "a", "ã", "a", "ä", "a", "å", "a", "ą", "a", "ă", "a", "æ", "ae",
	"ç", "c", "ć", "c", "č", "c", "ď", "d", "đ", "d", "ð", "d",
	"è", "e", "é", "e", "ê", "e", "ë", "e", "ę", "e", "ě", "e",
	"ì", "i", "í", "i", "î", "i", "ï", "i", "ı", "i", "ł", "l", "ľ", "l",
	"ñ", "n", "ń", "n", "ň", "n", "ò", "o", "ó", "o", "ô", "o", "õ", "o", "ö", "o", "ø", "o", "ő", "o", "œ", "oe",
	"ř", "r", "ś", "s", "š", "s", "ş", "s", "ș", "s", "ß", "ss", "ť", "t", "ţ", "t", "ț", "t", "þ", "th",
	"ù", "u", "ú", "u", "û", "u", "ü", "u", "ů", "u", "ű", "u", "ý", "y", "ÿ", "y", "ź", "z", "ż", "z", "ž", "z",
)
