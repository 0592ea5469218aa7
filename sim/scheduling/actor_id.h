// ActorId: the stable index of a simulated actor (a fiber) in its Scheduler.
// Actors are numbered 0, 1, 2, ... in spawn order, so a seeded run and its
// replay name the same actor with the same id. Traces store these ids.
#pragma once

#include <cstdint>
#include <limits>

namespace ms::sim {

using ActorId = uint32_t;

// "No actor": returned by CurrentActor() outside any actor, and by a replay
// strategy whose trace has run out.
inline constexpr ActorId kNoActor = std::numeric_limits<ActorId>::max();

}  // namespace ms::sim
