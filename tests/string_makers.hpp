// doctest's printing of the values the suites compare: durations in ms, lists of sleeps, statuses and causes by
// name. One definition for every test file of a binary (specializations must not differ between them).
#pragma once

#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace doctest {
template <>
struct StringMaker<std::chrono::milliseconds> {
  static String convert(std::chrono::milliseconds value) { return (std::to_string(value.count()) + "ms").c_str(); }
};
template <>
struct StringMaker<std::vector<std::chrono::milliseconds>> {
  static String convert(const std::vector<std::chrono::milliseconds>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i].count()) + "ms";
    return (out + "}").c_str();
  }
};
template <>
struct StringMaker<heygen::TranslationStatus> {
  static String convert(heygen::TranslationStatus value) { return std::string(heygen::to_string(value)).c_str(); }
};
template <>
struct StringMaker<heygen::FailureCause> {
  static String convert(heygen::FailureCause value) { return std::string(heygen::to_string(value)).c_str(); }
};
template <>
struct StringMaker<heygen::WebhookVerdict> {
  static String convert(heygen::WebhookVerdict value) { return std::string(heygen::to_string(value)).c_str(); }
};
}  // namespace doctest
