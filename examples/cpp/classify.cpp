// classify: the sentiment model trained by examples/sentiment.py, used from C++ on raw text.
//
//   classify MODEL.rnnkit TOKENIZER.json PREPROCESSING.json [SENTENCE...]
//
// The three files are the ones sentiment.py writes (sentiment_bilstm.rnnkit, sentiment_tokenizer.json,
// sentiment_preprocessing.json). Sentences come from the command line or, without any, one per line from stdin,
// each classified as it arrives. Each prints "probability<TAB>label<TAB>sentence".
//
// Text becomes token ids exactly as in Python before model.predict: Tokenizer.texts_to_sequences
// (text_to_word_sequence, word_index, num_words, oov_token) then pad_sequences(maxlen, padding, truncating).
// Lower-casing covers ASCII and Latin-1 (U+00C0..U+00DE); other letters pass through unchanged, whereas Python's
// str.lower() would lower them too, so a word such as "ΑΘΗΝΑ" matches the vocabulary only as typed. That covers
// sentiment.py's vocabulary, which is all Latin-1: it decodes its corpus as Latin-1.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <rnnkit/model.hpp>
#include <rnnkit/model_file.hpp>

namespace {

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::invalid_argument("cannot open " + path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

const rnnkit::Json& field(const rnnkit::Json& object, const std::string& key, const std::string& source) {
  const rnnkit::Json* value = object.find(key);
  if (value == nullptr) throw std::invalid_argument(source + ": missing \"" + key + "\"");
  return *value;
}

const std::string& string_field(const rnnkit::Json& object, const std::string& key, const std::string& source) {
  const rnnkit::Json& value = field(object, key, source);
  if (value.kind != rnnkit::Json::Kind::string)
    throw std::invalid_argument(source + ": \"" + key + "\" is not a string");
  return value.string;
}

// Strict decoding (no overlong forms, surrogates or values past U+10FFFF): the bytes must mean what Python's
// str would hold, or the words would not match the vocabulary.
std::u32string decode_utf8(const std::string& text, const std::string& what) {
  std::u32string out;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = 0; i < text.size();) {
    const unsigned c = s[i];
    std::size_t len = 1;
    char32_t cp = c;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else if (c >= 0x80) len = 0;
    bool valid = len != 0 && i + len <= text.size();
    for (std::size_t k = 1; valid && k < len; ++k) {
      valid = (s[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    valid = valid && !(len == 3 && cp < 0x800) && !(len == 4 && cp < 0x10000) && cp <= 0x10FFFF &&
            !(cp >= 0xD800 && cp <= 0xDFFF);
    if (!valid) throw std::invalid_argument(what + " is not valid UTF-8 (byte " + std::to_string(i) + ")");
    out += cp;
    i += len;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// str.lower() on ASCII and Latin-1: A-Z and U+00C0..U+00DE (except U+00D7, the multiplication sign) are the
// upper-case letters there, each 0x20 below its lower-case form.
char32_t lower_latin1(char32_t cp) {
  const bool upper = (cp >= U'A' && cp <= U'Z') || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7);
  return upper ? cp + 0x20 : cp;
}

// rnnkit.preprocessing.text.Tokenizer as saved by to_json(), for word-level tokenizers.
class Tokenizer {
 public:
  explicit Tokenizer(const std::string& path) {
    const rnnkit::Json root = rnnkit::parse_json(read_file(path), path);
    if (root.kind != rnnkit::Json::Kind::object || string_field(root, "class_name", path) != "Tokenizer")
      throw std::invalid_argument(path + ": not a Tokenizer's to_json() (class_name \"Tokenizer\" expected)");
    const rnnkit::Json& config = field(root, "config", path);
    if (config.kind != rnnkit::Json::Kind::object) throw std::invalid_argument(path + ": \"config\" is not an object");

    const rnnkit::Json& char_level = field(config, "char_level", path);
    if (char_level.kind != rnnkit::Json::Kind::boolean || char_level.boolean)
      throw std::invalid_argument(path + ": only word-level tokenizers are supported (char_level must be false)");
    const rnnkit::Json& lower = field(config, "lower", path);
    if (lower.kind != rnnkit::Json::Kind::boolean) throw std::invalid_argument(path + ": \"lower\" is not a boolean");
    lower_ = lower.boolean;
    for (char32_t cp : decode_utf8(string_field(config, "filters", path), path + " filters")) filters_.insert(cp);
    split_ = string_field(config, "split", path);
    if (split_.empty()) throw std::invalid_argument(path + ": \"split\" is empty (Python's str.split refuses it)");

    // None and 0 both mean every word of the vocabulary (Python tests `num_words and index >= num_words`).
    const rnnkit::Json& num_words = field(config, "num_words", path);
    if (num_words.kind == rnnkit::Json::Kind::number && num_words.is_integer && num_words.integer >= 0)
      num_words_ = num_words.integer;
    else if (num_words.kind != rnnkit::Json::Kind::null)
      throw std::invalid_argument(path + ": \"num_words\" is neither null nor an integer >= 0");

    // word_index is a JSON document inside a string, as tf.keras wrote it.
    const std::string source = path + " word_index";
    const rnnkit::Json index = rnnkit::parse_json(string_field(config, "word_index", path), source);
    if (index.kind != rnnkit::Json::Kind::object) throw std::invalid_argument(source + ": not an object");
    for (const auto& [word, id] : index.object) {
      if (id.kind != rnnkit::Json::Kind::number || !id.is_integer || id.integer < 1)
        throw std::invalid_argument(source + ": the index of \"" + word + "\" is not an integer >= 1");
      word_index_.emplace(word, id.integer);
    }

    // As in Python, an oov_token missing from word_index (a tokenizer never fitted) drops unknown words.
    const rnnkit::Json& oov = field(config, "oov_token", path);
    if (oov.kind == rnnkit::Json::Kind::string) {
      const auto found = word_index_.find(oov.string);
      if (found != word_index_.end()) oov_index_ = found->second;
    } else if (oov.kind != rnnkit::Json::Kind::null) {
      throw std::invalid_argument(path + ": \"oov_token\" is neither null nor a string");
    }
  }

  // text_to_word_sequence: lower-case, every filter character becomes `split`, split on it, drop empty words.
  // Lowering comes first, as in Python: with lower=True an upper-case filter character never matches.
  std::vector<std::string> words(const std::string& text, const std::string& what) const {
    std::string translated;
    for (char32_t cp : decode_utf8(text, what)) {
      if (lower_) cp = lower_latin1(cp);
      if (filters_.count(cp) != 0) translated += split_;
      else append_utf8(translated, cp);
    }
    // Byte-wise find is code-point-wise here: UTF-8 never matches starting inside a character.
    std::vector<std::string> words;
    for (std::size_t start = 0;;) {
      const std::size_t end = translated.find(split_, start);
      std::string word = translated.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (!word.empty()) words.push_back(std::move(word));
      if (end == std::string::npos) return words;
      start = end + split_.size();
    }
  }

  // texts_to_sequences for one text: unknown words and words ranked at num_words or beyond become the
  // oov_token's index, or are dropped when there is none.
  std::vector<std::int64_t> sequence(const std::string& text, const std::string& what) const {
    std::vector<std::int64_t> ids;
    for (const std::string& word : words(text, what)) {
      const auto found = word_index_.find(word);
      if (found == word_index_.end() || (num_words_ != 0 && found->second >= num_words_)) {
        if (oov_index_) ids.push_back(*oov_index_);
      } else {
        ids.push_back(found->second);
      }
    }
    return ids;
  }

 private:
  std::unordered_map<std::string, std::int64_t> word_index_;
  std::unordered_set<char32_t> filters_;
  std::string split_;
  bool lower_ = true;
  std::int64_t num_words_ = 0;
  std::optional<std::int64_t> oov_index_;
};

// pad_sequences' settings and the names of the two classes, from sentiment_preprocessing.json.
struct Preprocessing {
  std::int64_t maxlen = 0;
  bool pad_pre = true;
  bool truncate_pre = true;
  std::string labels[2];

  explicit Preprocessing(const std::string& path) {
    const rnnkit::Json root = rnnkit::parse_json(read_file(path), path);
    if (root.kind != rnnkit::Json::Kind::object) throw std::invalid_argument(path + ": not a JSON object");
    const rnnkit::Json& length = field(root, "maxlen", path);
    if (length.kind != rnnkit::Json::Kind::number || !length.is_integer || length.integer < 1)
      throw std::invalid_argument(path + ": \"maxlen\" is not an integer >= 1");
    maxlen = length.integer;
    pad_pre = pre_or_post(string_field(root, "padding", path), "padding", path);
    truncate_pre = pre_or_post(string_field(root, "truncating", path), "truncating", path);
    const rnnkit::Json& names = field(root, "labels", path);
    if (names.kind != rnnkit::Json::Kind::array || names.array.size() != 2 ||
        names.array[0].kind != rnnkit::Json::Kind::string || names.array[1].kind != rnnkit::Json::Kind::string)
      throw std::invalid_argument(path + ": \"labels\" is not two strings (for probabilities <= 0.5 and > 0.5)");
    labels[0] = names.array[0].string;
    labels[1] = names.array[1].string;
  }

  static bool pre_or_post(const std::string& value, const std::string& key, const std::string& path) {
    if (value != "pre" && value != "post")
      throw std::invalid_argument(path + ": \"" + key + "\" is \"" + value + "\", expected \"pre\" or \"post\"");
    return value == "pre";
  }

  // pad_sequences for one sequence, with value 0 (the index Embedding(mask_zero=True) masks). Token ids are
  // passed to the model as floats holding whole numbers.
  std::vector<float> pad(const std::vector<std::int64_t>& ids) const {
    std::vector<float> row(static_cast<std::size_t>(maxlen), 0.0f);
    const std::size_t kept = std::min(ids.size(), row.size());
    const auto first = truncate_pre ? ids.end() - static_cast<std::ptrdiff_t>(kept) : ids.begin();
    const std::size_t offset = pad_pre ? row.size() - kept : 0;
    for (std::size_t k = 0; k < kept; ++k) row[offset + k] = static_cast<float>(first[k]);
    return row;
  }
};

int run(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: classify MODEL.rnnkit TOKENIZER.json PREPROCESSING.json [SENTENCE...]\n"
                 "       (without sentences, one per line from stdin)\n";
    return 2;
  }
  const rnnkit::Model model = rnnkit::load_model(argv[1]);
  const Tokenizer tokenizer(argv[2]);
  const Preprocessing preprocessing(argv[3]);
  const rnnkit::Shape& input = model.input_shape();
  if (input.size() != 1 || (input[0] != -1 && input[0] != preprocessing.maxlen))
    throw std::invalid_argument(std::string(argv[1]) + " does not take sequences of " +
                                std::to_string(preprocessing.maxlen) + " token ids (maxlen of " + argv[3] + ")");
  if (model.output_shape() != rnnkit::Shape{1})
    throw std::invalid_argument(std::string(argv[1]) + " does not output one probability per example");

  const auto classify = [&](const std::string& sentence, const std::string& what) {
    const std::vector<float> row = preprocessing.pad(tokenizer.sequence(sentence, what));
    const rnnkit::Tensor y = model.predict(rnnkit::TensorView{{1, preprocessing.maxlen}, row.data()});
    const float p = y.values.at(0);
    std::printf("%.9g\t%s\t%s\n", static_cast<double>(p), preprocessing.labels[p > 0.5f ? 1 : 0].c_str(),
                sentence.c_str());
    std::fflush(stdout);  // a line out for each line in, when used interactively or through a pipe
  };
  if (argc > 4) {
    for (int i = 4; i < argc; ++i) classify(argv[i], "sentence " + std::to_string(i - 3));
  } else {
    std::string line;
    for (long number = 1; std::getline(std::cin, line); ++number) {
      if (!line.empty() && line.back() == '\r') line.pop_back();  // a CRLF line ending, not part of the text
      classify(line, "line " + std::to_string(number));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "classify: " << error.what() << "\n";
    return 1;
  }
}
