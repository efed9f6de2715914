package simkit

import (
	"hash/fnv"
	"strings"
)

// BOS is the toy tokenizer's beginning-of-sequence id.
const BOS = 1

// Tokenize is the simulators' deterministic toy tokenizer: a BOS, then one
// token per whitespace-separated word, id = 2 + FNV-1a(word) mod (vocab −
// 2), so that ids 0 and 1 stay special. A prompt of n words is n + 1
// tokens.
func Tokenize(s string, vocab int) []int {
	words := strings.Fields(s)
	out := make([]int, 0, len(words)+1)
	out = append(out, BOS)
	span := uint32(max(vocab-2, 1))
	for _, w := range words {
		h := fnv.New32a()
		h.Write([]byte(w))
		out = append(out, 2+int(h.Sum32()%span))
	}
	return out
}

// generatedWords is the simulators' output vocabulary: token k of a
// generation is " " + generatedWords[k % len].
var generatedWords = []string{"the", "simulated", "model", "writes", "one", "word", "per", "token", "and", "never", "stops", "early"}

// GeneratedText is token k of every generation.
func GeneratedText(k int) string { return " " + generatedWords[k%len(generatedWords)] }
