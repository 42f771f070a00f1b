//===- Tasks.cpp - downstream multiple-choice tasks, scored by likelihood -===//
#include "shear/Runtime/Tasks.h"

#include "shear/Runtime/Tensor.h"
#include "shear/Support/Files.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using namespace shear;
using namespace shear::rt;

namespace {
std::string strip(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\n\r\f\v"), e = s.find_last_not_of(" \t\n\r\f\v");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}
std::string replaceAll(const std::string &s, const std::string &from, const std::string &to) {
  std::string out;
  size_t at = 0;
  for (size_t hit; (hit = s.find(from, at)) != std::string::npos; at = hit + from.size())
    out.append(s, at, hit - at).append(to);
  return out.append(s, at, std::string::npos);
}
/// HellaSwag's clean-up, as the harness does it (WikiHow's "[title]"
/// markers become sentence ends, other bracketed notes go).
std::string hellaswagClean(const std::string &text) {
  std::string t = replaceAll(strip(text), " [title]", ". ");
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    size_t close = t[i] == '[' ? t.find(']', i) : std::string::npos;
    if (close != std::string::npos) {
      i = close;
      continue;
    }
    out.push_back(t[i]);
  }
  return replaceAll(out, "  ", " ");
}
std::string capitalize(std::string s) {
  // Python's str.capitalize: the first character upper, the rest lower (ASCII here).
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = static_cast<char>(i == 0 ? std::toupper(static_cast<unsigned char>(s[i]))
                                    : std::tolower(static_cast<unsigned char>(s[i])));
  return s;
}

/// A field of one line, with the error naming file, line and field.
class Line {
public:
  Line(const json::Value &v, const std::string &file, int64_t line) : v_(v), file_(file), line_(line) {}
  Status missing(const std::string &field, const std::string &what) const {
    return fileError(file_ + ":" + std::to_string(line_), "field '" + field + "': " + what);
  }
  Result<std::string> str(const char *field) const {
    const std::string *s = v_.getString(field);
    if (!s)
      return missing(field, "missing or not a string");
    return *s;
  }
  Result<std::vector<std::string>> strings(const json::Value &parent, const char *field, const char *name) const {
    const json::Array *a = parent.getArray(field);
    if (!a || a->empty())
      return missing(name, "missing or not a non-empty array");
    std::vector<std::string> out;
    for (const json::Value &x : *a) {
      if (!x.asString())
        return missing(name, "holds something other than strings");
      out.push_back(*x.asString());
    }
    return out;
  }
  /// An index given as an integer or a string of digits.
  Result<int> index(const char *field, int choices) const {
    const json::Value *x = v_.get(field);
    std::optional<int64_t> i;
    if (x && x->asInteger())
      i = *x->asInteger();
    else if (x && x->asString() && !x->asString()->empty() &&
             x->asString()->find_first_not_of("0123456789") == std::string::npos && x->asString()->size() < 9)
      i = std::stoll(*x->asString());
    if (!i)
      return missing(field, "missing or not an index");
    if (*i < 0 || *i >= choices)
      return missing(field, std::to_string(*i) + " is not one of the " + std::to_string(choices) + " choices");
    return static_cast<int>(*i);
  }
  const json::Value &value() const { return v_; }

private:
  const json::Value &v_;
  const std::string &file_;
  int64_t line_;
};

#define TRY(var, expr)                                                                             \
  auto var##Result = (expr);                                                                       \
  if (!var##Result.ok())                                                                           \
    return var##Result.status();                                                                   \
  auto var = var##Result.take();

Result<TaskItem> parseItem(const Line &l, TaskLayout layout) {
  TaskItem item;
  auto shared = [&](const std::string &context, const std::vector<std::string> &choices,
                    const std::string &delimiter) {
    for (const std::string &c : choices) {
      item.contexts.push_back(context);
      item.continuations.push_back(delimiter + c);
      item.choiceTexts.push_back(c);
    }
  };
  switch (layout) {
  case TaskLayout::Generic: {
    TRY(context, l.str("context"));
    TRY(choices, l.strings(l.value(), "choices", "choices"));
    shared(context, choices, "");
    TRY(gold, l.index("gold", static_cast<int>(choices.size())));
    item.gold = gold;
    break;
  }
  case TaskLayout::Arc: {
    TRY(question, l.str("question"));
    const json::Value *choices = l.value().get("choices");
    if (!choices || !choices->asObject())
      return l.missing("choices", "missing or not an object with text and label");
    TRY(text, l.strings(*choices, "text", "choices.text"));
    TRY(labels, l.strings(*choices, "label", "choices.label"));
    if (labels.size() != text.size())
      return l.missing("choices.label", "not as many labels as texts");
    TRY(key, l.str("answerKey"));
    auto it = std::find(labels.begin(), labels.end(), key);
    if (it == labels.end())
      return l.missing("answerKey", "'" + key + "' is not one of the labels");
    shared("Question: " + question + "\nAnswer:", text, " ");
    item.gold = static_cast<int>(it - labels.begin());
    break;
  }
  case TaskLayout::HellaSwag: {
    std::string ctx;
    if (l.value().getString("ctx")) {
      ctx = *l.value().getString("ctx");
    } else {
      TRY(a, l.str("ctx_a"));
      TRY(b, l.str("ctx_b"));
      ctx = a + " " + capitalize(b);
    }
    if (const std::string *activity = l.value().getString("activity_label"))
      ctx = *activity + ": " + ctx;
    TRY(endings, l.strings(l.value(), "endings", "endings"));
    for (std::string &e : endings)
      e = hellaswagClean(e);
    shared(hellaswagClean(ctx), endings, " ");
    TRY(gold, l.index("label", static_cast<int>(endings.size())));
    item.gold = gold;
    break;
  }
  case TaskLayout::Piqa: {
    TRY(goal, l.str("goal"));
    TRY(sol1, l.str("sol1"));
    TRY(sol2, l.str("sol2"));
    shared("Question: " + goal + "\nAnswer:", {sol1, sol2}, " ");
    TRY(gold, l.index("label", 2));
    item.gold = gold;
    break;
  }
  case TaskLayout::BoolQ: {
    TRY(passage, l.str("passage"));
    TRY(question, l.str("question"));
    std::optional<bool> answer = l.value().getBool("answer");
    if (!answer)
      return l.missing("answer", "missing or not true/false");
    shared(passage + "\nQuestion: " + question + "?\nAnswer:", {"no", "yes"}, " ");
    item.gold = *answer ? 1 : 0;
    break;
  }
  case TaskLayout::WinoGrande: {
    // Partial scoring: the blank filled with each option is the context, the
    // rest of the sentence the continuation scored.
    TRY(sentence, l.str("sentence"));
    TRY(o1, l.str("option1"));
    TRY(o2, l.str("option2"));
    size_t blank = sentence.find('_');
    if (blank == std::string::npos)
      return l.missing("sentence", "has no '_' blank");
    std::string rest = " " + strip(sentence.substr(blank + 1));
    for (const std::string &o : {o1, o2}) {
      item.contexts.push_back(sentence.substr(0, blank) + o);
      item.continuations.push_back(rest);
      item.choiceTexts.push_back(rest);
    }
    const json::Value *answer = l.value().get("answer");
    std::string a = answer && answer->asString() ? *answer->asString()
                    : answer && answer->asInteger() ? std::to_string(*answer->asInteger())
                                                    : "";
    if (a != "1" && a != "2")
      return l.missing("answer", "missing or not 1 or 2");
    item.gold = a == "1" ? 0 : 1;
    break;
  }
  case TaskLayout::Lambada: {
    TRY(text, l.str("text"));
    size_t space = text.rfind(' ');
    if (space == std::string::npos || space + 1 >= text.size())
      return l.missing("text", "has no last word after a space");
    item.contexts = {text.substr(0, space)};
    item.continuations = {text.substr(space)};
    item.choiceTexts = {text.substr(space + 1)};
    break;
  }
  }
  return item;
}
#undef TRY

double mean(const std::vector<double> &x) {
  return x.empty() ? 0 : std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}
/// The standard error of the mean (sample standard deviation / sqrt(n)).
json::Value stderrOf(const std::vector<double> &x) {
  if (x.size() < 2)
    return json::Value();
  double m = mean(x), ss = 0;
  for (double v : x)
    ss += (v - m) * (v - m);
  return std::sqrt(ss / static_cast<double>(x.size() - 1) / static_cast<double>(x.size()));
}
} // namespace

TaskLayout rt::layoutOf(const std::string &name) {
  auto starts = [&](const char *p) { return name.rfind(p, 0) == 0; };
  if (starts("arc"))
    return TaskLayout::Arc;
  if (starts("hellaswag"))
    return TaskLayout::HellaSwag;
  if (starts("piqa"))
    return TaskLayout::Piqa;
  if (starts("boolq"))
    return TaskLayout::BoolQ;
  if (starts("winogrande"))
    return TaskLayout::WinoGrande;
  if (starts("lambada"))
    return TaskLayout::Lambada;
  return TaskLayout::Generic;
}

Result<std::vector<TaskItem>> rt::readTask(const std::string &path, TaskLayout layout) {
  auto text = readFile(path);
  if (!text.ok())
    return text.status();
  std::vector<TaskItem> items;
  int64_t number = 0;
  for (size_t at = 0; at < text->size();) {
    size_t end = text->find('\n', at);
    if (end == std::string::npos)
      end = text->size();
    std::string_view line(text->data() + at, end - at);
    at = end + 1;
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos)
      continue;
    auto value = json::parse(line);
    if (!value.ok())
      return fileError(path + ":" + std::to_string(number), "not JSON: " + value.status().message());
    if (!value->asObject())
      return fileError(path + ":" + std::to_string(number), "not a JSON object");
    auto item = parseItem(Line(*value, path, number), layout);
    if (!item.ok())
      return item.status();
    item->line = number;
    items.push_back(item.take());
  }
  if (items.empty())
    return fileError(path, "holds no task items");
  return items;
}

std::string rt::fewShotContext(const std::vector<TaskItem> &items, size_t index, size_t choice, int shots,
                               uint64_t seed) {
  const TaskItem &item = items[index];
  if (shots <= 0)
    return item.contexts[choice];
  // Examples: a partial Fisher-Yates shuffle of the other items, seeded by
  // (seed, index), so every item sees its own draw whatever --limit is.
  std::vector<size_t> others;
  for (size_t i = 0; i < items.size(); ++i)
    if (i != index)
      others.push_back(i);
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + index);
  size_t take = std::min(others.size(), static_cast<size_t>(shots));
  for (size_t j = 0; j < take; ++j)
    std::swap(others[j], others[j + rng() % (others.size() - j)]);
  std::string prefix;
  for (size_t j = 0; j < take; ++j) {
    const TaskItem &e = items[others[j]];
    prefix += e.contexts[e.gold] + e.continuations[e.gold] + "\n\n";
  }
  return prefix + item.contexts[choice];
}

Result<std::vector<Likelihood>> rt::scorePairs(const std::vector<std::pair<std::string, std::string>> &pairs,
                                               const Encoder &encode, Executable &forward, ParamStore &store,
                                               Backend &backend, const ScoreOptions &o) {
  // As the harness: spaces ending the context move to the continuation; the
  // continuation's tokens are those of context + continuation past the
  // context's own tokens.
  std::vector<std::string> texts;
  for (auto [context, continuation] : pairs) {
    size_t keep = context.find_last_not_of(' ') + 1; // npos + 1 = 0: all spaces
    continuation = context.substr(keep) + continuation;
    context.resize(keep);
    texts.push_back(context);
    texts.push_back(context + continuation);
  }
  auto encoded = encode(texts);
  if (!encoded.ok())
    return encoded.status();
  if (encoded->size() != texts.size())
    return internalError("the tokenizer returned " + std::to_string(encoded->size()) + " texts for " +
                         std::to_string(texts.size()));
  struct Request {
    std::vector<int64_t> input; // fed to the model
    size_t first;               // position whose logits predict the first continuation token
    std::vector<int64_t> targets;
  };
  std::vector<Request> requests(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    std::vector<int64_t> context = (*encoded)[2 * i], whole = (*encoded)[2 * i + 1];
    if (o.bos >= 0) {
      context.insert(context.begin(), o.bos);
      whole.insert(whole.begin(), o.bos);
    }
    for (int64_t id : whole)
      if (id < 0 || id >= o.vocab)
        return invalidInput("the tokenizer gives token " + std::to_string(id) +
                            ", outside the model's vocabulary of " + std::to_string(o.vocab) +
                            ": not this model's tokenizer");
    Request &r = requests[i];
    if (whole.size() <= context.size() || context.empty()) {
      r.first = 0; // nothing to score (or nothing to condition on)
      continue;
    }
    r.targets.assign(whole.begin() + static_cast<int64_t>(context.size()), whole.end());
    // Input: all but the last token, at most maxLength, cut from the start.
    std::vector<int64_t> input(whole.begin(), whole.end() - 1);
    size_t drop = input.size() > static_cast<size_t>(o.maxLength) ? input.size() - o.maxLength : 0;
    if (r.targets.size() > input.size() - drop)
      return invalidInput("a continuation of " + std::to_string(r.targets.size()) +
                          " tokens does not fit --max-length " + std::to_string(o.maxLength));
    r.input.assign(input.begin() + static_cast<int64_t>(drop), input.end());
    r.first = r.input.size() - r.targets.size();
  }

  // Longest first, batched under the token budget, padded on the right
  // (causal attention: padding never reaches the positions scored).
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    size_t la = requests[a].input.size(), lb = requests[b].input.size();
    return la != lb ? la > lb : a < b;
  });
  std::vector<Likelihood> out(requests.size());
  for (size_t start = 0; start < order.size();) {
    size_t len = std::max<size_t>(1, requests[order[start]].input.size());
    // The float32 logits of a batch stay under 512 MiB whatever the vocabulary.
    int64_t budget = std::min<int64_t>(o.tokenBudget, (int64_t(1) << 27) / std::max<int64_t>(1, o.vocab));
    size_t batch = std::max<size_t>(1, static_cast<size_t>(budget) / len);
    size_t end = std::min(order.size(), start + batch);
    Tensor ids = Tensor::zeros({static_cast<int64_t>(end - start), static_cast<int64_t>(len)}, DType::I64);
    for (size_t k = start; k < end; ++k) {
      const Request &r = requests[order[k]];
      std::copy(r.input.begin(), r.input.end(), ids.i64() + (k - start) * len);
    }
    if (requests[order[start]].input.empty()) { // the rest score nothing
      for (size_t k = start; k < order.size(); ++k)
        out[order[k]] = {0.0, true, 0};
      break;
    }
    auto result = forward.run({ids}, store);
    if (!result.ok())
      return result.status();
    auto logits = backend.toHost((*result)[0]);
    if (!logits.ok())
      return logits.status();
    int64_t vocab = logits->shape().back();
    for (size_t k = start; k < end; ++k) {
      const Request &r = requests[order[k]];
      Likelihood &l = out[order[k]];
      l.greedy = true;
      l.tokens = static_cast<int64_t>(r.targets.size());
      for (size_t t = 0; t < r.targets.size(); ++t) {
        const float *row = logits->f32() + ((k - start) * len + r.first + t) * vocab;
        double mx = row[0];
        int64_t arg = 0;
        for (int64_t v = 1; v < vocab; ++v)
          if (row[v] > mx) {
            mx = row[v];
            arg = v;
          }
        double sum = 0;
        for (int64_t v = 0; v < vocab; ++v)
          sum += std::exp(static_cast<double>(row[v]) - mx);
        l.loglik += static_cast<double>(row[r.targets[t]]) - mx - std::log(sum);
        l.greedy = l.greedy && arg == r.targets[t];
      }
    }
    start = end;
  }
  return out;
}

json::Object rt::taskMetrics(const std::string &name, TaskLayout layout, const std::vector<TaskItem> &items,
                             const std::vector<std::vector<Likelihood>> &scores) {
  json::Object m{{"task", name}, {"count", static_cast<int64_t>(items.size())}};
  if (layout == TaskLayout::Lambada) {
    std::vector<double> acc, ll;
    for (const auto &s : scores) {
      acc.push_back(s[0].greedy ? 1 : 0);
      ll.push_back(s[0].loglik);
    }
    m["acc"] = mean(acc);
    m["acc_stderr"] = stderrOf(acc);
    m["perplexity"] = std::exp(-mean(ll));
    return m;
  }
  std::vector<double> acc, accNorm;
  for (size_t i = 0; i < items.size(); ++i) {
    size_t best = 0, bestNorm = 0;
    auto norm = [&](size_t c) {
      return scores[i][c].loglik / std::max<double>(1, static_cast<double>(items[i].choiceTexts[c].size()));
    };
    for (size_t c = 1; c < scores[i].size(); ++c) {
      if (scores[i][c].loglik > scores[i][best].loglik)
        best = c;
      if (norm(c) > norm(bestNorm))
        bestNorm = c;
    }
    acc.push_back(static_cast<int>(best) == items[i].gold ? 1 : 0);
    accNorm.push_back(static_cast<int>(bestNorm) == items[i].gold ? 1 : 0);
  }
  m["acc"] = mean(acc);
  m["acc_stderr"] = stderrOf(acc);
  m["acc_norm"] = mean(accNorm);
  m["acc_norm_stderr"] = stderrOf(accNorm);
  return m;
}
