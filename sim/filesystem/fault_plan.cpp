#include "sim/filesystem/fault_plan.h"

namespace ms::sim {

std::string_view FsOpName(FsOp op) {
  switch (op) {
    case FsOp::kMakeDir: return "fs.mkdir";
    case FsOp::kRemoveDir: return "fs.rmdir";
    case FsOp::kUnlink: return "fs.unlink";
    case FsOp::kLink: return "fs.link";
    case FsOp::kSymlink: return "fs.symlink";
    case FsOp::kReadLink: return "fs.readlink";
    case FsOp::kRename: return "fs.rename";
    case FsOp::kStat: return "fs.stat";
    case FsOp::kReadDir: return "fs.readdir";
    case FsOp::kNewWritableFile: return "fs.create";
    case FsOp::kAppend: return "fs.append";
    case FsOp::kSync: return "fs.sync";
    case FsOp::kClose: return "fs.close";
    case FsOp::kReadFile: return "fs.read";
    case FsOp::kChmod: return "fs.chmod";
    case FsOp::kSyncDir: return "fs.syncdir";
    case FsOp::kLockFile: return "fs.lock";
    case FsOp::kOverwriteFile: return "fs.overwrite";
    case FsOp::kAppendToExisting: return "fs.append_existing";
    case FsOp::kCount: break;
  }
  return "fs.unknown";
}

std::array<uint32_t, kFsOpCount> DefaultFaultCodes() {
  std::array<uint32_t, kFsOpCount> codes{};
  auto set = [&codes](FsOp op, std::initializer_list<Code> allowed) {
    codes[static_cast<size_t>(op)] = CodeMask(allowed);
  };
  set(FsOp::kMakeDir, {Code::kNoSpace, Code::kIo, Code::kPermission});
  set(FsOp::kRemoveDir, {Code::kIo, Code::kPermission});
  set(FsOp::kUnlink, {Code::kIo, Code::kPermission});
  set(FsOp::kLink,
      {Code::kNoSpace, Code::kIo, Code::kCrossDevice, Code::kTooManyLinks, Code::kPermission});
  set(FsOp::kSymlink, {Code::kNoSpace, Code::kIo, Code::kPermission});
  set(FsOp::kReadLink, {Code::kIo});
  set(FsOp::kRename, {Code::kIo, Code::kCrossDevice, Code::kPermission});
  set(FsOp::kStat, {Code::kIo});
  set(FsOp::kReadDir, {Code::kIo});
  set(FsOp::kNewWritableFile, {Code::kNoSpace, Code::kIo, Code::kPermission});
  set(FsOp::kAppend, {Code::kNoSpace, Code::kIo});
  set(FsOp::kSync, {Code::kIo});
  set(FsOp::kClose, {Code::kIo});
  set(FsOp::kReadFile, {Code::kIo});
  set(FsOp::kChmod, {Code::kIo, Code::kPermission});
  set(FsOp::kSyncDir, {Code::kIo});
  set(FsOp::kLockFile, {Code::kNoSpace, Code::kIo, Code::kPermission});
  // kOverwriteFile, kAppendToExisting: a container's writes; none by default.
  return codes;
}

}  // namespace ms::sim
