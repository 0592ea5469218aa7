// The Runtime port for production: real threads, real clocks.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "core/runtime.h"

namespace ms {

class ThreadRuntime final : public Runtime {
 public:
  // log_sink receives every Log call; the default writes WARNING and ERROR
  // lines to stderr.
  using LogSink = std::function<void(LogLevel, std::string_view)>;
  explicit ThreadRuntime(LogSink log_sink = nullptr);

  void Lock(std::string_view key) override;
  void Unlock(std::string_view key) override;
  int64_t NowMs() override;
  int64_t WallNowMs() override;
  void SleepMs(int64_t duration_ms) override;
  void Log(LogLevel level, std::string_view message) override;

  // Number of keys with a holder or waiter, for leak tests.
  size_t ActiveKeys();

 private:
  struct KeyState {
    bool held = false;
    int waiters = 0;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, KeyState, std::less<>> keys_;
  LogSink log_sink_;
};

}  // namespace ms
