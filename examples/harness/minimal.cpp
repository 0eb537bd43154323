// The smallest useful pawl harness in C++ (docs/harness.md): it times std::sort on N random floats.
// No JSON library: pawl's requests are flat, so a few string searches read them.
//
//   g++ -O2 -std=c++17 -o minimal-cpp minimal.cpp
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

// The text of a JSON string field: "key":"value".
static std::string text_field(const std::string& line, const std::string& key) {
    auto at = line.find("\"" + key + "\":\"");
    if (at == std::string::npos) return "";
    at += key.size() + 4;
    return line.substr(at, line.find('"', at) - at);
}

// A JSON number field: "key":123.
static long long number_field(const std::string& line, const std::string& key) {
    auto at = line.find("\"" + key + "\":");
    return at == std::string::npos ? 0 : std::stoll(line.substr(at + key.size() + 3));
}

// The strings of the "cases" array of a `time` request.
static std::vector<std::string> cases(const std::string& line) {
    std::vector<std::string> out;
    auto at = line.find("\"cases\":[");
    auto end = line.find(']', at);
    for (at = line.find('"', at + 9); at < end; at = line.find('"', at + 1)) {
        auto close = line.find('"', at + 1);
        out.push_back(line.substr(at + 1, close - at - 1));
        at = close;
    }
    return out;
}

int main() {
    std::map<std::string, std::vector<float>> inputs;
    std::string line;
    while (std::getline(std::cin, line)) {
        const std::string op = text_field(line, "op");
        const std::string seq = std::to_string(number_field(line, "seq"));
        if (op == "prepare") {  // params come after "params":{ ...; N is the only one here
            std::mt19937 rng(number_field(line, "seed"));
            std::uniform_real_distribution<float> uniform(0, 1);
            std::vector<float> data(number_field(line.substr(line.find("\"params\"")), "N"));
            for (auto& x : data) x = uniform(rng);
            inputs[text_field(line, "case")] = data;
            std::cout << "{\"seq\":" << seq << ",\"ok\":true}" << std::endl;
        } else if (op == "check") {  // no reference to compare with
            std::cout << "{\"seq\":" << seq << ",\"unchecked\":true}" << std::endl;
        } else if (op == "time") {
            std::string samples;
            for (const auto& id : cases(line)) {
                auto data = inputs[id];  // a fresh unsorted copy, outside the timed region
                auto start = std::chrono::steady_clock::now();
                std::sort(data.begin(), data.end());
                auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start);
                samples += (samples.empty() ? "" : ",") + std::to_string(ns.count());
            }
            std::cout << "{\"seq\":" << seq << ",\"samples_ns\":[" << samples << "]}" << std::endl;
        } else if (op == "release") {
            inputs.erase(text_field(line, "case"));
            std::cout << "{\"seq\":" << seq << ",\"ok\":true}" << std::endl;
        } else {
            std::cout << "{\"seq\":" << seq << ",\"error\":\"unknown op\"}" << std::endl;
        }
    }
}
