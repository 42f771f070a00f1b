//===- ChatTemplate.h - the conversation template shear trains and prompts with
//
// Vicuna v1.1's (what FastChat and the Sheared-LLaMA chat models use):
//   <BOS>{system} USER: {user} ASSISTANT: {answer}<EOS>USER: {user} ASSISTANT: {answer}<EOS>...
// shear-data chat renders conversations with it (the loss on answers and
// their EOS only) and shear-run generate --chat prompts with it.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_SUPPORT_CHATTEMPLATE_H
#define SHEAR_SUPPORT_CHATTEMPLATE_H

#include <string>

namespace shear {

inline const char *defaultSystemPrompt() {
  return "A chat between a curious user and an artificial intelligence assistant. The assistant gives "
         "helpful, detailed, and polite answers to the user's questions.";
}

/// The prompt of turn `index` (from 0): the system prompt before the first,
/// then "USER: {user} ASSISTANT:". The answer follows as " {answer}" and EOS.
inline std::string chatPrompt(const std::string &system, const std::string &user, size_t index) {
  return (index == 0 && !system.empty() ? system + " " : std::string()) + "USER: " + user + " ASSISTANT:";
}

} // namespace shear

#endif
