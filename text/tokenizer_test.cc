// Tokenizer unit tests: split semantics, special tokens, byte-exact round trips of arbitrary
// bytes, and clear errors for bad vocabulary files. The exact-id comparison against js-tiktoken
// is tests/tokenizer/test_tiktoken.py.
#include "afm/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "afm/error.h"
#include "afm/gguf.h"
#include "afm/rng.h"
#include "text/pretokenizer.h"

namespace afm {
namespace {

const std::string kVocab = AFM_SHARED_VOCAB;

std::vector<std::string> pieces(text::split_pattern p, std::string_view s) {
  std::vector<uint32_t> ends;
  text::split(p, s, ends);
  std::vector<std::string> out;
  uint32_t b = 0;
  for (uint32_t e : ends) out.emplace_back(s.substr(b, e - b)), b = e;
  return out;
}

using V = std::vector<std::string>;

TEST(Split, Cl100kBranches) {
  const auto p = text::split_pattern::cl100k;
  EXPECT_EQ(pieces(p, "Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pieces(p, "I'M here"), (V{"I", "'M", " here"}));
  EXPECT_EQ(pieces(p, "12345"), (V{"123", "45"}));
  EXPECT_EQ(pieces(p, "a  b"), (V{"a", " ", " b"}));            // \s+(?!\S) leaves one space
  EXPECT_EQ(pieces(p, "a \n\n b"), (V{"a", " \n\n", " b"}));    // \s*[\r\n]+
  EXPECT_EQ(pieces(p, "x !!\n\ny"), (V{"x", " !!\n\n", "y"}));  // punctuation takes newlines
  EXPECT_EQ(pieces(p, "end   "), (V{"end", "   "}));            // trailing run stays whole
  EXPECT_EQ(pieces(p, "$hello"), (V{"$hello"}));                // one non-letter prefix
}

TEST(Split, O200kCaseClasses) {
  const auto p = text::split_pattern::o200k;
  EXPECT_EQ(pieces(p, "HELLOworld"), (V{"HELLOworld"}));
  EXPECT_EQ(pieces(p, "helloWORLD"), (V{"hello", "WORLD"}));
  EXPECT_EQ(pieces(p, "camelCaseWord"), (V{"camel", "Case", "Word"}));
  EXPECT_EQ(pieces(p, "they'LL go"), (V{"they'LL", " go"}));
  EXPECT_EQ(pieces(p, "a/b//\n"), (V{"a", "/b", "//\n"}));
}

TEST(Split, Gpt2) {
  const auto p = text::split_pattern::gpt2;
  EXPECT_EQ(pieces(p, "it's 2024!!"), (V{"it", "'s", " 2024", "!!"}));
  EXPECT_EQ(pieces(p, "I'M"), (V{"I", "'", "M"}));  // GPT-2's contractions are lowercase only
}

TEST(Split, InvalidUtf8IsOneCharacterPerByte) {
  const std::string s = "ab\xff\xfe cd\xc3";
  std::string joined;
  for (const auto& x : pieces(text::split_pattern::cl100k, s)) joined += x;
  EXPECT_EQ(joined, s);
}

class Vocab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kVocab + "/cl100k_base.tiktoken")) GTEST_SKIP() << "no " << kVocab;
  }
};

TEST_F(Vocab, RoundTripsArbitraryBytes) {
  for (const char* name : {"cl100k_base", "o200k_base"}) {
    const tokenizer tok = tokenizer::from_tiktoken_dir(kVocab, name);
    rng g(7);
    for (int t = 0; t < 300; ++t) {
      std::string s(g.next() % 200, '\0');
      for (char& c : s) c = static_cast<char>(g.next() % 256);
      ASSERT_EQ(tok.decode(tok.encode(s)), s) << name;
    }
  }
}

TEST_F(Vocab, SpecialTokens) {
  const tokenizer tok = tokenizer::from_tiktoken_dir(kVocab, "cl100k_base");
  const std::string s = "a<|endoftext|>b";
  const auto as_text = tok.encode(s);
  const auto allowed = tok.encode(s, special_tokens::allowed);
  EXPECT_EQ(std::count(allowed.begin(), allowed.end(), 100257), 1);
  EXPECT_EQ(std::count(as_text.begin(), as_text.end(), 100257), 0);
  EXPECT_EQ(tok.decode(allowed), s);
  EXPECT_EQ(tok.decode(as_text), s);
  EXPECT_EQ(tok.special_id("<|endoftext|>"), 100257);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{100000000}), error);
}

TEST_F(Vocab, SaveAndLoadGiveTheSameIds) {
  const tokenizer a =
      tokenizer::from_gpt2(kVocab + "/gpt2/encoder.json", kVocab + "/gpt2/vocab.bpe");
  const std::string path = ::testing::TempDir() + "afm_vocab.json";
  a.save(path);
  const tokenizer b = tokenizer::load(path);
  const std::string s = "Saving a vocabulary keeps every id: héllo wörld 12345 <|endoftext|>";
  EXPECT_EQ(a.encode(s, special_tokens::allowed), b.encode(s, special_tokens::allowed));
  EXPECT_EQ(b.vocab_size(), a.vocab_size());
}

TEST_F(Vocab, NonBpeGgufIsRefused) {
  try {
    tokenizer::from_gguf(gguf_file::open(kVocab + "/ggml-vocab-llama-spm.gguf"));
    FAIL();
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find("not byte-level BPE"), std::string::npos) << e.what();
  }
}

void expect_error(const std::string& contents, const std::string& fragment) {
  const std::string path = ::testing::TempDir() + "afm_bad.tiktoken";
  std::ofstream(path) << contents;
  try {
    tokenizer::from_tiktoken(path, "cl100k_base");
    FAIL() << "expected " << fragment;
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(BadVocab, ClearErrors) {
  expect_error("not a vocabulary\n", "invalid base64");
  expect_error("QQ==\n", "expected '<base64 token> <rank>'");
  expect_error("QQ== 0\nQg== 0\n", "duplicate rank 0");
  expect_error("QQ== x\n", "invalid rank");
  expect_error("QQ== 0\nQg== 1\n", "no token for byte");  // truncated: most bytes missing
  expect_error("", "no tokens");
  EXPECT_THROW(tokenizer::open("/nonexistent.tiktoken"), error);
  EXPECT_THROW(tokenizer::open("/tmp"), error);
}

}  // namespace
}  // namespace afm

namespace afm {
namespace {

tokenizer through_gguf(const tokenizer& tok, const std::string& name) {
  const std::string path = ::testing::TempDir() + "afm_vocab_" + name + ".gguf";
  gguf_writer w;
  w.set("general.architecture", gguf_value::str("afm"));
  tok.write_gguf(w);
  w.write_header(path);
  w.finish();
  return tokenizer::from_gguf(gguf_file::open(path));
}

TEST_F(Vocab, EmbeddedInGgufGivesTheSameIds) {
  const std::string s =
      "Embedding keeps every id: héllo wörld 12345 你好 🤷🏽‍♀️ don't STOP "
      "<|endoftext|>\n\n  x";
  for (const char* name : {"cl100k_base", "o200k_base"}) {
    const tokenizer a = tokenizer::from_tiktoken_dir(kVocab, name);
    const tokenizer b = through_gguf(a, name);
    EXPECT_EQ(b.vocab_size(), a.vocab_size()) << name;
    EXPECT_EQ(b.split_name(), name == std::string("cl100k_base") ? "llama-bpe" : "o200k");
    EXPECT_EQ(a.encode(s, special_tokens::allowed), b.encode(s, special_tokens::allowed)) << name;
  }
}

}  // namespace
}  // namespace afm
