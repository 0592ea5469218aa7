// LayerSource: where a full pull's layer payloads come from when the store
// keeps one copy of each layer (ModelStore's blob entries), so that two
// manifests sharing a layer share its files and fetch it once.
#pragma once

#include <functional>
#include <string>

#include "core/manifest.h"
#include "core/status.h"

namespace ms {

class LayerSource {
 public:
  // Fills an existing empty staging directory with one layer's payload: a
  // raw layer as the file kRawPayloadName, a tar layer as its extracted
  // tree. On error the directory may hold part of it (the source removes it).
  using FillFn = std::function<Status(const std::string& staging_dir)>;
  // Uses a complete payload directory (links its files into a model). A
  // kCorrupt from it (a tampered payload) must come before it changed
  // anything: the source then discards the payload, fills a fresh one and
  // calls it again, once.
  using UseFn = std::function<Status(const std::string& payload_dir)>;

  LayerSource() = default;
  LayerSource(const LayerSource&) = delete;
  LayerSource& operator=(const LayerSource&) = delete;
  virtual ~LayerSource() = default;

  // Before any WithLayer: the manifest's layers, so that whoever owns the
  // model can let go of them when the model is collected.
  virtual Status BeginManifest(const ModelManifest& manifest) = 0;

  // Holds the layer (its lock, and a reference from the model being
  // pulled) while it fills the payload if the source lacks it, then uses it.
  virtual Status WithLayer(const Layer& layer, const FillFn& fill, const UseFn& use) = 0;
};

// The one name in a raw layer's payload directory.
inline constexpr char kRawPayloadName[] = "file";

}  // namespace ms
