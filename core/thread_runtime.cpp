#include "core/thread_runtime.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace ms {

namespace {
const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarning: return "WARNING";
    case LogLevel::kError: return "ERROR";
  }
  return "?";
}
}  // namespace

ThreadRuntime::ThreadRuntime(LogSink log_sink) : log_sink_(std::move(log_sink)) {}

void ThreadRuntime::Lock(std::string_view key) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = keys_.find(key);
  if (it == keys_.end()) it = keys_.emplace(std::string(key), KeyState{}).first;
  KeyState& state = it->second;
  ++state.waiters;
  // One condition variable for all keys: simple, and contention here is
  // per-digest and per-volume, i.e. low.
  cv_.wait(lock, [&] { return !state.held; });
  --state.waiters;
  state.held = true;
}

void ThreadRuntime::Unlock(std::string_view key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = keys_.find(key);
    if (it == keys_.end() || !it->second.held) {
      std::fprintf(stderr, "ThreadRuntime::Unlock of a key not held: %.*s\n",
                   static_cast<int>(key.size()), key.data());
      std::abort();
    }
    it->second.held = false;
    if (it->second.waiters == 0) keys_.erase(it);
  }
  cv_.notify_all();
}

int64_t ThreadRuntime::NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

int64_t ThreadRuntime::WallNowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void ThreadRuntime::SleepMs(int64_t duration_ms) {
  if (duration_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(duration_ms));
}

void ThreadRuntime::Log(LogLevel level, std::string_view message) {
  if (log_sink_) {
    log_sink_(level, message);
    return;
  }
  if (level >= LogLevel::kWarning) {
    std::fprintf(stderr, "[modelstore %s] %.*s\n", LevelName(level),
                 static_cast<int>(message.size()), message.data());
  }
}

size_t ThreadRuntime::ActiveKeys() {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.size();
}

}  // namespace ms
