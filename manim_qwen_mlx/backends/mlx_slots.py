"""The talker's keys and values for every row in flight, one batch cache per layer (mlx).

Each row owns a slot: its prefill is written there when it joins, a frame writes each row's new key and
value at the row's own position, and a row leaves by freeing its slot (nothing moves). A frame is then one
call of mlx-audio's own talker over every slot: one attention a layer, with an additive mask for each row's
length and each row's own rotary positions, compiled once per shape (the positions are arrays, so a frame
does not retrace). Slots grow in powers of two and positions in blocks, so no frame copies the cache; when
few rows are left, the cache is compacted once into fewer slots. Attention reads only the positions up to
the longest row's, rounded up to a smaller block (a view of the cache), not the whole capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from manim_qwen_mlx.backends.base import MlxAudioTTS

POSITION_BLOCK = 128  # positions added at a time when a row outgrows the cache
WINDOW_BLOCK = 32  # attention's width is a multiple of this: a new width is a new trace, not a copy


@dataclass(eq=False)
class Seat:
    """A row's place in the cache: its slot (moved by a compaction) and the tokens it holds."""

    slot: int
    length: int


class _SlotLayer:
    """mlx-audio's cache contract for one layer (``offset``, ``update_and_fetch``) over the batch arrays: the
    step's key and value [S, heads, 1, size] go to each slot's own position; attention gets the first
    ``window`` positions."""

    offset = 0  # unused: positions are passed explicitly

    def __init__(self, keys: Any, values: Any, positions: Any, window: int) -> None:
        self.keys, self.values, self.positions, self.window = keys, values, positions, window

    def update_and_fetch(self, keys: Any, values: Any) -> tuple[Any, Any]:
        import mlx.core as mx

        where = mx.broadcast_to(self.positions[:, None, None, None], keys.shape)
        self.keys = mx.put_along_axis(self.keys, where, keys, axis=2)
        self.values = mx.put_along_axis(self.values, where, values, axis=2)
        if self.window == self.keys.shape[2]:
            return self.keys, self.values
        return self.keys[:, :, : self.window], self.values[:, :, : self.window]


class SlotCache:
    """The talker's batch cache: ``keys``/``values`` per layer [slots, kv heads, capacity, head size]."""

    def __init__(self, model: MlxAudioTTS) -> None:
        self.model = model
        self.layers = len(model.talker.model.layers)
        self.keys: list[Any] = []
        self.values: list[Any] = []
        self.seats: list[Seat | None] = []  # by slot; None: free
        self._steps: dict[tuple[int, int, int], Any] = {}

    @property
    def slots(self) -> int:
        return len(self.seats)

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2] if self.keys else 0

    def join(self, keys: list[Any], values: list[Any], lengths: list[int]) -> list[Seat]:
        """New rows' seats: row ``r`` of each layer's prefill ``keys`` / ``values`` [R, kv heads, L, head size]
        holds its first ``lengths[r]`` tokens."""
        import mlx.core as mx

        free = self.seats.count(None)
        if free < len(lengths):
            self._resize(max(1, 1 << (self.slots - free + len(lengths) - 1).bit_length()), self.capacity)
        if keys[0].shape[2] > self.capacity:
            self._resize(self.slots, _blocks(keys[0].shape[2]))
        seats = []
        for length in lengths:
            seat = Seat(self.seats.index(None), length)
            self.seats[seat.slot] = seat
            seats.append(seat)
        # One write a layer for every joining row; a shorter row's padding lands past its length, where no
        # step reads it (each row's mask stops at its length) and its own steps overwrite it.
        slots, longest = mx.array([seat.slot for seat in seats]), keys[0].shape[2]
        for layer in range(self.layers):
            self.keys[layer][slots, :, :longest] = keys[layer]
            self.values[layer][slots, :, :longest] = values[layer]
        return seats

    def leave(self, seat: Seat) -> None:
        self.seats[seat.slot] = None
        held = sum(other is not None for other in self.seats)
        if self.slots > 1 and held <= self.slots // 4:
            self._compact()

    def step(self, seats: list[Seat], inputs: Any) -> tuple[Any, Any]:
        """One talker step of the rows in ``seats`` (inputs [R, 1, D] in that order): their logits [R, V] and
        hidden states [R, 1, D]; each row's key and value are written at its position, which moves on."""
        import mlx.core as mx

        needed = max(seat.length for seat in seats) + 1
        if needed > self.capacity:
            self._resize(self.slots, _blocks(needed))
        slots = [seat.slot for seat in seats]
        order = mx.array(slots, dtype=mx.int32)
        identity = slots == list(range(self.slots))
        full = inputs if identity else mx.zeros((self.slots, *inputs.shape[1:]), inputs.dtype).at[order].add(inputs)
        positions = mx.array([0 if seat is None else seat.length for seat in self.seats], dtype=mx.int32)
        window = min(self.capacity, -(-needed // WINDOW_BLOCK) * WINDOW_BLOCK)
        logits, hidden, *arrays = self._compiled(window)(full, positions, *self.keys, *self.values)
        self.keys, self.values = list(arrays[: self.layers]), list(arrays[self.layers :])
        for seat in seats:
            seat.length += 1
        return (logits, hidden) if identity else (logits[order], hidden[order])

    def _compiled(self, window: int) -> Any:
        import mlx.core as mx

        shape = (self.slots, self.capacity, window)
        if shape not in self._steps:
            talker, layers = self.model.talker, self.layers

            def step(inputs: Any, positions: Any, *arrays: Any) -> tuple[Any, ...]:
                caches = [_SlotLayer(arrays[i], arrays[layers + i], positions, window) for i in range(layers)]
                seen = mx.arange(window)[None, :] <= positions[:, None]
                mask = mx.where(seen, 0.0, -mx.inf).astype(inputs.dtype)[:, None, None, :]
                position_ids = mx.broadcast_to(positions[None, :, None], (3, inputs.shape[0], 1))
                logits, hidden = talker(inputs, position_ids=position_ids, mask=mask, cache=caches)
                return (logits[:, -1, :], hidden, *(c.keys for c in caches), *(c.values for c in caches))

            self._steps[shape] = mx.compile(step)
        return self._steps[shape]

    def _resize(self, slots: int, capacity: int) -> None:
        """Grow to ``slots`` slots and ``capacity`` positions, what is held kept in place."""
        import mlx.core as mx

        if not self.keys:
            attention = self.model.talker.model.layers[0].self_attn
            shape = (0, attention.num_kv_heads, 0, attention.head_dim)
            dtype = self.model.talker.model.norm.weight.dtype
            self.keys = [mx.zeros(shape, dtype) for _ in range(self.layers)]
            self.values = [mx.zeros(shape, dtype) for _ in range(self.layers)]
        old_slots, old_capacity = self.keys[0].shape[0], self.capacity
        for arrays in (self.keys, self.values):
            for layer, array in enumerate(arrays):
                grown = mx.zeros((slots, array.shape[1], capacity, array.shape[3]), array.dtype)
                grown[:old_slots, :, :old_capacity] = array
                arrays[layer] = grown
        self.seats.extend([None] * (slots - old_slots))

    def _compact(self) -> None:
        """Few rows left in many slots: gather them into the first slots of a smaller cache."""
        import mlx.core as mx

        held = [seat for seat in self.seats if seat is not None]
        if not held:  # every row left: the next one starts afresh
            self.keys, self.values, self.seats = [], [], []
            return
        slots = 1 << (len(held) - 1).bit_length()
        order = mx.array([seat.slot for seat in held] + [0] * (slots - len(held)), dtype=mx.int32)
        self.keys = [array[order] for array in self.keys]
        self.values = [array[order] for array in self.values]
        for index, seat in enumerate(held):
            seat.slot = index
        self.seats = [*held, *([None] * (slots - len(held)))]


def _blocks(length: int) -> int:
    return -(-length // POSITION_BLOCK) * POSITION_BLOCK
