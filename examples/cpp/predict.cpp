// predict: loads a model saved by Python's model.save and prints its predictions, one example per line.
//
//   predict MODEL.rnnkit [--shape D1,D2,...] (--input FILE | VALUE...)
//
// Values (from the command line or a file, separated by spaces, commas or newlines) fill examples of the model's
// input shape in row-major order; --shape gives the per-example shape when the model accepts any sequence length.
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <rnnkit/model.hpp>

namespace {

std::vector<float> parse_values(std::istream& in) {
  std::vector<float> values;
  std::string token;
  while (in >> token) {
    std::stringstream fields(token);
    std::string field;
    while (std::getline(fields, field, ','))
      if (!field.empty()) {
        std::size_t used = 0;
        values.push_back(std::stof(field, &used));
        if (used != field.size()) throw std::invalid_argument("not a number: \"" + field + "\"");
      }
  }
  return values;
}

rnnkit::Shape parse_shape(const std::string& text) {
  rnnkit::Shape shape;
  std::stringstream fields(text);
  std::string field;
  while (std::getline(fields, field, ',')) shape.push_back(std::stoll(field));
  return shape;
}

int run(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: predict MODEL.rnnkit [--shape D1,D2,...] (--input FILE | VALUE...)\n";
    return 2;
  }
  const rnnkit::Model model = rnnkit::load_model(argv[1]);
  rnnkit::Shape example = model.input_shape();
  std::vector<float> values;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--shape" && i + 1 < argc) {
      example = parse_shape(argv[++i]);
    } else if (arg == "--input" && i + 1 < argc) {
      std::ifstream file(argv[++i]);
      if (!file) throw std::invalid_argument(std::string("cannot open ") + argv[i]);
      const std::vector<float> more = parse_values(file);
      values.insert(values.end(), more.begin(), more.end());
    } else {
      std::istringstream one(arg);
      const std::vector<float> more = parse_values(one);
      values.insert(values.end(), more.begin(), more.end());
    }
  }
  std::int64_t per_example = 1;
  for (std::int64_t d : example) {
    if (d < 0) throw std::invalid_argument("the model accepts any size on some axis; pass --shape");
    per_example *= d;
  }
  if (values.empty() || per_example == 0 || values.size() % static_cast<std::size_t>(per_example) != 0)
    throw std::invalid_argument("received " + std::to_string(values.size()) + " values, not a whole number of " +
                                "examples of " + std::to_string(per_example) + " values");
  rnnkit::Shape shape{static_cast<std::int64_t>(values.size()) / per_example};
  shape.insert(shape.end(), example.begin(), example.end());
  // A view: predict reads the caller's buffer without taking it over.
  const rnnkit::Tensor y = model.predict(rnnkit::TensorView{shape, values.data()});
  const std::size_t per_output = y.shape[0] == 0 ? 0 : y.values.size() / static_cast<std::size_t>(y.shape[0]);
  for (std::size_t i = 0; i < y.values.size(); ++i)
    std::printf("%.9g%c", static_cast<double>(y.values[i]), (i + 1) % per_output == 0 ? '\n' : ' ');
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "predict: " << error.what() << "\n";
    return 1;
  }
}
