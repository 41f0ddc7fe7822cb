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

namespace afm {
namespace {

// Expected ids from llama.cpp's models/ggml-vocab-llama-spm.gguf.out, which its
// convert_hf_to_gguf_update.py produced with the reference SentencePiece tokenizer (no BOS).
struct spm_case {
  const char* text;
  std::vector<int32_t> ids;
};
const spm_case kLlamaSpm[] = {
    {"ied 4 \u00bd months", {474, 287, 29871, 29946, 29871, 30226, 7378}},
    {"F\u00fchrer", {383, 4000, 261}},
    {"", {}},
    {" ", {259}},
    {"  ", {1678}},
    {"   ", {268}},
    {"\t", {29871, 12}},
    {"\n", {29871, 13}},
    {"\n\n", {29871, 13, 13}},
    {"\n\n\n", {29871, 13, 13, 13}},
    {"\t\n", {29871, 12, 13}},
    {"Hello world", {15043, 3186}},
    {" Hello world", {29871, 15043, 3186}},
    {"Hello World", {15043, 2787}},
    {" Hello World", {29871, 15043, 2787}},
    {" Hello World!", {29871, 15043, 2787, 29991}},
    {"Hello, world!", {15043, 29892, 3186, 29991}},
    {" Hello, world!", {29871, 15043, 29892, 3186, 29991}},
    {" this is \U0001F999.cpp", {29871, 445, 338, 29871, 243, 162, 169, 156, 29889, 8223}},
    {"w048 7tuijk dsdfhu",
     {281, 29900, 29946, 29947, 29871, 29955, 9161, 13535, 18031, 2176, 6905}},
    {"\u043d\u0435\u0449\u043e \u043d\u0430 \u0411\u044a\u043b\u0433\u0430\u0440\u0441\u043a\u0438",
     {1538, 4851, 665, 1386, 29713, 1305}},
    {"\u1780\u17b6\u1793\u17cb\u178f\u17c2\u1796\u17b7\u179f\u17c1\u179f\u17a2\u17b6\u1785\u1781"
     "\u179b\u1785\u17c1\u1789",
     {29871, 31849, 31324, 31934, 228, 162, 142, 228,   161, 146, 228, 162,   133, 228, 161, 153,
      228,   161,   186,   31708, 228, 162, 132, 31708, 228, 161, 165, 31324, 228, 161, 136, 228,
      161,   132,   228,   161,   158, 228, 161, 136,   228, 162, 132, 228,   161, 140}},
    {"\U0001F680 (normal) \U0001F636\u200d\U0001F32B\ufe0f (multiple emojis concatenated) \u2705 "
     "(only emoji "
     "that has its own token)",
     {29871, 243, 162,  157, 131,   313,  8945,  29897, 29871, 243,  162,   155,  185,   30722,
      243,   162, 143,  174, 30598, 313,  20787, 953,   3848,  275,  16125, 630,  29897, 29871,
      31681, 313, 6194, 953, 29877, 2397, 393,   756,   967,   1914, 5993,  29897}},
    {"Hello", {15043}},
    {" Hello", {29871, 15043}},
    {"  Hello", {259, 15043}},
    {"   Hello", {1678, 15043}},
    {"    Hello", {268, 15043}},
    {"    Hello\n    Hello", {268, 15043, 13, 1678, 15043}},
    {" (", {29871, 313}},
    {"\n =", {29871, 13, 353}},
    {"' era", {525, 3152}},
    {"Hello, y'all! How are you \U0001F601 ?\u6211\u60f3\u5728apple\u5de5\u4f5c1314151\u5929\uff5e",
     {15043, 29892, 343,   29915, 497,   29991, 1128,  526,   366,   29871,
      243,   162,   155,   132,   1577,  30672, 31522, 30505, 11548, 31041,
      30732, 29896, 29941, 29896, 29946, 29896, 29945, 29896, 30408, 30739}},
    {"3", {29871, 29941}},
    {"33", {29871, 29941, 29941}},
    {"333333333", {29871, 29941, 29941, 29941, 29941, 29941, 29941, 29941, 29941, 29941}},
};

TEST_F(Vocab, LlamaSentencePieceMatchesReference) {
  const tokenizer tok =
      tokenizer::from_gguf(gguf_file::open(kVocab + "/ggml-vocab-llama-spm.gguf"));
  const tokenizer again = through_gguf(tok, "llama-spm");  // embedding keeps it exact
  for (const auto& c : kLlamaSpm) {
    EXPECT_EQ(tok.encode(c.text), c.ids) << "'" << c.text << "'";
    EXPECT_EQ(again.encode(c.text), c.ids) << "'" << c.text << "'";
    EXPECT_EQ(tok.decode(tok.encode(c.text)), c.text);
  }
  rng g(5);  // arbitrary bytes round-trip through byte fallback
  for (int t = 0; t < 200; ++t) {
    std::string s(1 + g.next() % 100, '\0');
    for (char& ch : s) ch = static_cast<char>(g.next() % 256);
    if (s[0] == ' ') s[0] = 'x';  // a leading space is the prefix rule's, by design
    ASSERT_EQ(tok.decode(tok.encode(s)), s);
  }
}

}  // namespace
}  // namespace afm
