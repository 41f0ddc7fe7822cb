// BPE training. Pieces (pre-tokenized words) are counted once; each distinct piece becomes a
// sequence of symbols. The most frequent adjacent pair is merged, and only the pieces that
// contain it are rescanned: their pair counts are subtracted, the merge applied, and the counts
// added back. A max-heap with lazy invalidation finds the next pair.
#include "afm/bpe_trainer.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <queue>
#include <thread>
#include <unordered_map>

#include "afm/error.h"
#include "afm/thread_pool.h"
#include "text/pretokenizer.h"

namespace afm {
namespace {

using pair_key = uint64_t;
pair_key key(int32_t a, int32_t b) {
  return static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32 | static_cast<uint32_t>(b);
}
int32_t first(pair_key k) {
  return static_cast<int32_t>(k >> 32);
}
int32_t second(pair_key k) {
  return static_cast<int32_t>(k & 0xffffffffu);
}

struct word {
  std::vector<int32_t> syms;
  uint64_t count;
};

// Counts the pieces of all files; each thread takes a slice of every file, cut at a newline.
std::unordered_map<std::string, uint64_t> count_pieces(const std::vector<std::string>& files,
                                                       text::split_pattern split, thread_pool& pool,
                                                       const bpe_train_options& o) {
  std::unordered_map<std::string, uint64_t> total;
  size_t all_bytes = 0, done_bytes = 0;
  std::vector<std::string> texts;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) fail(f, ": cannot open corpus file");
    texts.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    all_bytes += texts.back().size();
  }
  for (const std::string& text : texts) {
    const size_t T = static_cast<size_t>(pool.size());
    std::vector<size_t> cuts{0};
    for (size_t t = 1; t < T; ++t) {
      size_t c = std::max(cuts.back(), text.size() * t / T);
      while (c < text.size() && text[c] != '\n') ++c;
      cuts.push_back(c);
    }
    cuts.push_back(text.size());
    std::vector<std::unordered_map<std::string, uint64_t>> local(T);
    pool.run([&](int t) {
      const size_t ut = static_cast<size_t>(t);
      const std::string_view part =
          std::string_view(text).substr(cuts[ut], cuts[ut + 1] - cuts[ut]);
      // Split line by line so a huge file never needs one giant offsets array.
      size_t begin = 0;
      std::vector<uint32_t> ends;
      while (begin < part.size()) {
        size_t end = std::min(part.size(), begin + (1u << 20));
        while (end < part.size() && part[end - 1] != '\n') ++end;
        ends.clear();
        text::split(split, part.substr(begin, end - begin), ends);
        uint32_t b = 0;
        for (uint32_t e : ends) {
          ++local[ut][std::string(part.substr(begin + b, e - b))];
          b = e;
        }
        begin = end;
        if (t == 0 && o.progress) o.progress("count", done_bytes + begin * T, all_bytes);
      }
    });
    for (auto& m : local)
      for (auto& [k, v] : m) total[k] += v;
    done_bytes += text.size();
    if (o.progress) o.progress("count", done_bytes, all_bytes);
  }
  return total;
}

}  // namespace

tokenizer train_bpe(const std::vector<std::string>& corpus_files, const bpe_train_options& o) {
  const text::split_pattern split = text::parse_split_pattern(o.split);
  if (o.vocab_size < 256 + o.specials.size())
    fail("vocabulary size ", o.vocab_size, " cannot hold the 256 bytes and ", o.specials.size(),
         " special tokens");
  if (corpus_files.empty()) fail("no corpus files");
  thread_pool pool(o.threads > 0
                       ? o.threads
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  auto pieces = count_pieces(corpus_files, split, pool, o);

  // Distinct pieces in a fixed order (by bytes), so the result does not depend on hashing.
  std::vector<std::pair<std::string, uint64_t>> sorted(pieces.begin(), pieces.end());
  pieces.clear();
  std::sort(sorted.begin(), sorted.end());
  std::vector<word> words;
  words.reserve(sorted.size());
  for (const auto& [bytes, count] : sorted) {
    word w{{}, count};
    for (unsigned char c : bytes) w.syms.push_back(c);
    words.push_back(std::move(w));
  }
  sorted.clear();

  std::vector<std::string> tokens(256);
  for (int b = 0; b < 256; ++b)
    tokens[static_cast<size_t>(b)] = std::string(1, static_cast<char>(b));
  std::unordered_map<pair_key, int64_t> counts;
  std::unordered_map<pair_key, std::vector<uint32_t>> where;
  for (uint32_t wi = 0; wi < words.size(); ++wi) {
    const auto& s = words[wi].syms;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const pair_key k = key(s[i], s[i + 1]);
      counts[k] += static_cast<int64_t>(words[wi].count);
      auto& v = where[k];
      if (v.empty() || v.back() != wi) v.push_back(wi);
    }
  }
  // Max count first; equal counts: the smaller key (smaller left id, then right id).
  auto worse = [](const std::pair<int64_t, pair_key>& a, const std::pair<int64_t, pair_key>& b) {
    return a.first < b.first || (a.first == b.first && a.second > b.second);
  };
  std::priority_queue<std::pair<int64_t, pair_key>, std::vector<std::pair<int64_t, pair_key>>,
                      decltype(worse)>
      heap(worse);
  for (const auto& [k, c] : counts) heap.push({c, k});

  const size_t n_merges = o.vocab_size - 256 - o.specials.size();
  std::vector<int32_t> ranks(256, -1);
  std::unordered_map<std::string, int32_t> token_id;
  for (int32_t b = 0; b < 256; ++b) token_id.emplace(tokens[static_cast<size_t>(b)], b);
  size_t merges_done = 0;
  std::vector<uint32_t> affected;
  while (tokens.size() - 256 < n_merges && !heap.empty()) {
    const auto [c, k] = heap.top();
    heap.pop();
    const auto it = counts.find(k);
    const int64_t current = it == counts.end() ? 0 : it->second;
    if (current != c) {  // stale entry: requeue with the current count
      if (current > 0) heap.push({current, k});
      continue;
    }
    if (static_cast<uint64_t>(c) < o.min_frequency) break;
    const int32_t a = first(k), b = second(k);
    // A string two different merges produce (a+bc, ab+c) stays one token with its first rank.
    std::string merged = tokens[static_cast<size_t>(a)] + tokens[static_cast<size_t>(b)];
    auto [tok_it, is_new] = token_id.emplace(merged, static_cast<int32_t>(tokens.size()));
    const int32_t id = tok_it->second;
    if (is_new) {
      tokens.push_back(std::move(merged));
      ranks.push_back(static_cast<int32_t>(merges_done));
    }
    ++merges_done;
    affected = std::move(where[k]);
    where.erase(k);
    std::vector<pair_key> touched;
    for (uint32_t wi : affected) {
      word& w = words[wi];
      auto& s = w.syms;
      const auto cnt = static_cast<int64_t>(w.count);
      for (size_t i = 0; i + 1 < s.size(); ++i) counts[key(s[i], s[i + 1])] -= cnt;
      size_t out = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          s[out++] = id;
          ++i;
        } else {
          s[out++] = s[i];
        }
      }
      s.resize(out);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const pair_key pk = key(s[i], s[i + 1]);
        counts[pk] += cnt;
        if (s[i] == id || s[i + 1] == id) {
          auto& v = where[pk];
          if (v.empty() || v.back() != wi) v.push_back(wi);
          touched.push_back(pk);
        }
      }
    }
    counts.erase(k);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (pair_key pk : touched) heap.push({counts[pk], pk});
    if (o.progress && (tokens.size() % 64 == 0 || tokens.size() - 256 == n_merges))
      o.progress("merge", tokens.size() - 256, n_merges);
  }
  std::vector<std::pair<std::string, int32_t>> specials;
  for (const auto& s : o.specials) {
    specials.emplace_back(s, static_cast<int32_t>(tokens.size()));
    tokens.push_back(s);
    ranks.push_back(-1);
  }
  return tokenizer::build(std::move(tokens), std::move(ranks), o.split, std::move(specials));
}

}  // namespace afm
