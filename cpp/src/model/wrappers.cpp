// Bidirectional (a recurrent layer and its go_backwards twin, outputs merged) and TimeDistributed.
#include <algorithm>

#include "model/support.hpp"
#include "rnnkit/layers.hpp"

namespace rnnkit {
namespace model_detail {
namespace {

// Backward-running layers emit their sequence in processing order; Keras flips it back before merging.
void reverse_time(Tensor& t) {
  const std::int64_t time = t.shape[1], width = t.size() / std::max<std::int64_t>(t.shape[0] * time, 1);
  for (std::int64_t b = 0; b < t.shape[0]; ++b)
    for (std::int64_t s = 0; s < time / 2; ++s)
      std::swap_ranges(t.values.begin() + (b * time + s) * width, t.values.begin() + (b * time + s + 1) * width,
                       t.values.begin() + (b * time + time - 1 - s) * width);
}

enum class Merge { concat, sum, mul, ave };

Merge parse_merge(const std::string& mode, const std::string& where) {
  if (mode == "concat") return Merge::concat;
  if (mode == "sum") return Merge::sum;
  if (mode == "mul") return Merge::mul;
  if (mode == "ave") return Merge::ave;
  fail(where, "merge_mode \"" + mode + "\" is not supported (concat, sum, mul, ave)");
}

class BidirectionalLayer final : public Layer {
 public:
  BidirectionalLayer(std::string name, std::unique_ptr<RecurrentLayerBase> forward,
                     std::unique_ptr<RecurrentLayerBase> backward, const std::string& merge_mode)
      : Layer(std::move(name)), forward_(std::move(forward)), backward_(std::move(backward)),
        merge_(parse_merge(merge_mode, this->name())) {}
  const char* class_name() const override { return "Bidirectional"; }
  std::string config_json() const override {
    static const char* const merge_names[] = {"concat", "sum", "mul", "ave"};
    return config_object(*this, "\"merge_mode\": " + json_quote(merge_names[static_cast<int>(merge_)]) +
                                    ", \"layer\": " + layer_entry(*forward_) +
                                    ", \"backward_layer\": " + layer_entry(*backward_));
  }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    Shape output = forward_->build(input, rng);
    if (backward_->build(input, rng) != output)
      fail_layer(*this, "the forward and backward layers produce different output shapes");
    if (merge_ == Merge::concat) output.back() *= 2;
    return output;
  }

  struct Cache final : LayerCache {
    std::unique_ptr<LayerCache> forward, backward;
    Tensor y_forward, y_backward;  // mul needs both outputs for its gradient
  };

  Tensor forward(const Tensor& x, StepMask& mask, TrainingStep* training) const override {
    StepMask backward_mask = mask;
    std::unique_ptr<Cache> cache = training ? std::make_unique<Cache>() : nullptr;
    Tensor f = run(*forward_, x, mask, training, cache ? &cache->forward : nullptr);
    Tensor b = run(*backward_, x, backward_mask, training, cache ? &cache->backward : nullptr);
    if (backward_->return_sequences()) reverse_time(b);
    Tensor y = merge(f, b);
    if (cache) {
      if (merge_ == Merge::mul) {
        cache->y_forward = std::move(f);
        cache->y_backward = std::move(b);
      }
      training->cache = std::move(cache);
    }
    return y;
  }

  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    Tensor d_f = d_y, d_b = d_y;
    if (merge_ == Merge::concat) {
      const std::int64_t units = d_y.shape.back() / 2;
      d_f.shape.back() = d_b.shape.back() = units;
      d_f.values.resize(static_cast<std::size_t>(d_y.size() / 2));
      d_b.values.resize(d_f.values.size());
      for (std::int64_t r = 0; r < d_y.size() / (2 * units); ++r) {
        std::copy_n(d_y.values.begin() + r * 2 * units, units, d_f.values.begin() + r * units);
        std::copy_n(d_y.values.begin() + r * 2 * units + units, units, d_b.values.begin() + r * units);
      }
    } else {
      for (std::size_t i = 0; i < d_y.values.size(); ++i) {
        if (merge_ == Merge::ave) d_f.values[i] = d_b.values[i] = 0.5f * d_y.values[i];
        if (merge_ == Merge::mul) {
          d_f.values[i] = d_y.values[i] * cache.y_backward.values[i];
          d_b.values[i] = d_y.values[i] * cache.y_forward.values[i];
        }
      }
    }
    if (backward_->return_sequences()) reverse_time(d_b);
    LayerGradients g = forward_->backward(*cache.forward, d_f);
    LayerGradients gb = backward_->backward(*cache.backward, d_b);
    for (std::size_t i = 0; i < g.d_x.values.size(); ++i) g.d_x.values[i] += gb.d_x.values[i];
    for (Tensor& d : gb.d_weights) g.d_weights.push_back(std::move(d));
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight* w : forward_->weights()) out.push_back(w);
    for (Weight* w : backward_->weights()) out.push_back(w);
  }
  void apply_trainable(bool trainable) override {
    forward_->set_trainable(trainable);
    backward_->set_trainable(trainable);
  }

 private:
  static Tensor run(const Layer& layer, const Tensor& x, StepMask& mask, TrainingStep* training,
                    std::unique_ptr<LayerCache>* cache) {
    if (!training) return layer.forward(x, mask, nullptr);
    TrainingStep step{training->rng, nullptr};
    Tensor y = layer.forward(x, mask, &step);
    *cache = std::move(step.cache);
    return y;
  }

  Tensor merge(const Tensor& f, const Tensor& b) const {
    if (merge_ != Merge::concat) {
      Tensor y = f;
      for (std::size_t i = 0; i < y.values.size(); ++i) {
        if (merge_ == Merge::sum) y.values[i] += b.values[i];
        else if (merge_ == Merge::mul) y.values[i] *= b.values[i];
        else y.values[i] = 0.5f * (y.values[i] + b.values[i]);
      }
      return y;
    }
    const std::int64_t units = f.shape.back();
    Shape shape = f.shape;
    shape.back() = 2 * units;
    Tensor y(shape);
    for (std::int64_t r = 0; r < f.size() / units; ++r) {
      std::copy_n(f.values.begin() + r * units, units, y.values.begin() + r * 2 * units);
      std::copy_n(b.values.begin() + r * units, units, y.values.begin() + r * 2 * units + units);
    }
    return y;
  }

  std::unique_ptr<RecurrentLayerBase> forward_, backward_;
  Merge merge_;
};

std::unique_ptr<RecurrentLayerBase> as_recurrent(std::unique_ptr<Layer> layer, const std::string& where) {
  auto* recurrent = dynamic_cast<RecurrentLayerBase*>(layer.get());
  if (recurrent == nullptr)
    fail(where, std::string("wraps ") + layer->class_name() + "; only SimpleRNN, LSTM, PeepholeLSTM and GRU are supported");
  layer.release();
  return std::unique_ptr<RecurrentLayerBase>(recurrent);
}

// Folds time into the batch: (batch, time, ...) runs through the inner layer as (batch * time, ...).
class TimeDistributedLayer final : public Layer {
 public:
  TimeDistributedLayer(std::string name, std::unique_ptr<Layer> inner) : Layer(std::move(name)), inner_(std::move(inner)) {}
  const char* class_name() const override { return "TimeDistributed"; }
  std::string config_json() const override { return config_object(*this, "\"layer\": " + layer_entry(*inner_)); }

  Shape build(const Shape& input, std::mt19937_64* rng) override {
    if (input.size() < 2) fail_layer(*this, "needs a (time, ...) input, received " + shape_text(input));
    Shape output = inner_->build(Shape(input.begin() + 1, input.end()), rng);
    output.insert(output.begin(), input[0]);
    return output;
  }

  struct Cache final : LayerCache {
    std::unique_ptr<LayerCache> inner;
    std::int64_t batch = 0, time = 0;
  };

  // The time mask passes through unchanged, as in Keras; the inner layer sees no mask.
  Tensor forward(const Tensor& x, StepMask&, TrainingStep* training) const override {
    Tensor folded = fold(x);
    StepMask no_mask;
    Tensor y;
    if (training) {
      TrainingStep step{training->rng, nullptr};
      y = inner_->forward(folded, no_mask, &step);
      auto cache = std::make_unique<Cache>();
      cache->inner = std::move(step.cache);
      cache->batch = x.shape[0];
      cache->time = x.shape[1];
      training->cache = std::move(cache);
    } else {
      y = inner_->forward(folded, no_mask, nullptr);
    }
    return unfold(std::move(y), x.shape[0], x.shape[1]);
  }

  LayerGradients backward(const LayerCache& base, const Tensor& d_y) const override {
    const auto& cache = static_cast<const Cache&>(base);
    LayerGradients g = inner_->backward(*cache.inner, fold(d_y));
    g.d_x = unfold(std::move(g.d_x), cache.batch, cache.time);
    return g;
  }

 protected:
  void collect_weights(std::vector<Weight*>& out) override {
    for (Weight* w : inner_->weights()) out.push_back(w);
  }
  void apply_trainable(bool trainable) override { inner_->set_trainable(trainable); }

 private:
  static Tensor fold(const Tensor& x) {
    Tensor folded = x;
    folded.shape.erase(folded.shape.begin() + 1);
    folded.shape[0] = x.shape[0] * x.shape[1];
    return folded;
  }
  static Tensor unfold(Tensor y, std::int64_t batch, std::int64_t time) {
    y.shape[0] = time;
    y.shape.insert(y.shape.begin(), batch);
    return y;
  }

  std::unique_ptr<Layer> inner_;
};

}  // namespace

std::unique_ptr<Layer> bidirectional_from_config(const ConfigReader& c) {
  auto forward = as_recurrent(layer_from_entry(c.object("layer"), c.source()), c.where());
  const Json* backward_entry = c.get("backward_layer");
  std::unique_ptr<RecurrentLayerBase> backward =
      backward_entry && backward_entry->kind == Json::Kind::object
          ? as_recurrent(layer_from_entry(*backward_entry, c.source()), c.where())
          : forward->reversed_copy("backward_" + forward->name());
  const Json* merge = c.get("merge_mode");
  if (merge && merge->kind == Json::Kind::null) fail(c.where(), "merge_mode=None (two outputs) is not supported");
  return std::make_unique<BidirectionalLayer>(c.name(), std::move(forward), std::move(backward),
                                              c.text("merge_mode", "concat"));
}

std::unique_ptr<Layer> time_distributed_from_config(const ConfigReader& c) {
  return std::make_unique<TimeDistributedLayer>(c.name(), layer_from_entry(c.object("layer"), c.source()));
}

}  // namespace model_detail

namespace layers {
std::unique_ptr<Layer> Bidirectional(std::unique_ptr<Layer> layer, const std::string& merge_mode,
                                     const std::string& name) {
  if (!layer) throw std::invalid_argument("rnnkit::layers::Bidirectional: received a null layer");
  const std::string own = name.empty() ? model_detail::auto_name("bidirectional") : name;
  auto forward = model_detail::as_recurrent(std::move(layer), own);
  auto backward = forward->reversed_copy("backward_" + forward->name());
  return std::make_unique<model_detail::BidirectionalLayer>(own, std::move(forward), std::move(backward), merge_mode);
}
std::unique_ptr<Layer> TimeDistributed(std::unique_ptr<Layer> layer, const std::string& name) {
  if (!layer) throw std::invalid_argument("rnnkit::layers::TimeDistributed: received a null layer");
  const std::string own = name.empty() ? model_detail::auto_name("time_distributed") : name;
  return std::make_unique<model_detail::TimeDistributedLayer>(own, std::move(layer));
}
}  // namespace layers

}  // namespace rnnkit
