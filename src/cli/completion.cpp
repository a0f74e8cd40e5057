#include "cli/completion.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace cordon::cli {

namespace {

// One command of the tree: its path ("cordon admin host add") and what may
// follow it.
struct CommandWords {
  std::string path;
  std::vector<std::string> commands;  // subcommands
  std::vector<std::string> options;   // every option name, flags included
  std::vector<std::string> valued;    // options whose next word is their value
};

// 'text' for the shell: the names are ours and plain, but a quote in one
// must not end the string.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

bool hidden(const std::string& group) { return group.empty(); }

// The options given on `app` itself and in its option groups (nameless
// subcommands, which CLI11 parses as part of `app`).
void add_options(const CLI::App& app, CommandWords& words) {
  for (const CLI::Option* option : app.get_options()) {
    if (!option->nonpositional() || hidden(option->get_group())) continue;
    std::vector<std::string> names;
    for (const auto& s : option->get_snames()) names.push_back("-" + s);
    for (const auto& l : option->get_lnames()) names.push_back("--" + l);
    for (const auto& n : names) {
      words.options.push_back(n);
      if (option->get_type_size_min() > 0) words.valued.push_back(n);
    }
  }
  for (const CLI::App* group : app.get_subcommands([](const CLI::App* s) { return s->get_name().empty(); })) {
    add_options(*group, words);
  }
}

void walk(const CLI::App& app, const std::string& path, std::vector<CommandWords>& out) {
  CommandWords words{.path = path};
  const auto named = app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); });
  for (const CLI::App* sub : named) {
    if (!hidden(sub->get_group())) words.commands.push_back(sub->get_name());
  }
  add_options(app, words);
  // CLI11 hands an option it does not know here to the parent when this
  // command falls through (`cordon admin host add ... --db FILE`).
  for (const CLI::App* up = &app; up->get_fallthrough() && up->get_parent() != nullptr; up = up->get_parent()) {
    add_options(*up->get_parent(), words);
  }
  out.push_back(std::move(words));
  for (const CLI::App* sub : named) {
    if (!hidden(sub->get_group())) walk(*sub, path + " " + sub->get_name(), out);
  }
}

// case "$1" in 'cordon admin') echo '...' ;; ... esac, for one field.
std::string lookup_function(const std::string& name, const std::string& comment,
                            const std::vector<CommandWords>& tree,
                            std::vector<std::string> CommandWords::*field) {
  std::string out = name + "() {  # " + comment + "\n  case \"$1\" in\n";
  for (const auto& command : tree) {
    const auto& words = command.*field;
    if (words.empty()) continue;
    out += "    " + quoted(command.path) + ") echo " + quoted(joined(words)) + " ;;\n";
  }
  return out + "  esac\n}\n";
}

// The completion function: find the command path among the words before
// the cursor (skipping option values), then offer that command's options
// after a '-', its subcommands otherwise, and file names where a value or a
// positional argument goes.
constexpr const char* kCompleteFunction = R"BASH(_cordon() {
  local cur=${COMP_WORDS[COMP_CWORD]} path=cordon i word
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    [[ -n $word ]] || continue
    if [[ " $(_cordon_valued "$path") " == *" $word "* ]]; then
      ((i++))
    elif [[ " $(_cordon_commands "$path") " == *" $word "* ]]; then
      path="$path $word"
    fi
  done
  local prev=${COMP_WORDS[COMP_CWORD - 1]}
  if [[ -n $prev && " $(_cordon_valued "$path") " == *" $prev "* ]]; then
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  elif [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_cordon_options "$path")" -- "$cur")
  elif [[ -n $(_cordon_commands "$path") ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_cordon_commands "$path")" -- "$cur")
  else
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
}
)BASH";

struct State {
  CLI::App* root = nullptr;
  CLI::App* command = nullptr;
  std::string shell;
};

State& state() {
  static State s;
  return s;
}

}  // namespace

std::string bash_completion_script(const CLI::App& app) {
  // Not app.get_name(): CLI11 sets that from argv[0], which may be a path.
  const std::string program = "cordon";
  std::vector<CommandWords> tree;
  walk(app, program, tree);
  std::string out = "# bash completion for " + program + ", made by `" + program +
                    " completion bash` from the binary's own\n"
                    "# command tree: subcommands and options at every level. Installed as\n"
                    "# /usr/share/bash-completion/completions/" + program + ".\n";
  out += lookup_function("_cordon_commands", "the subcommands of the command path $1", tree, &CommandWords::commands);
  out += lookup_function("_cordon_options", "the options of the command path $1", tree, &CommandWords::options);
  out += lookup_function("_cordon_valued", "the options of $1 that take a value", tree, &CommandWords::valued);
  out += kCompleteFunction;
  out += "complete -F _cordon " + quoted(program) + "\n";
  return out;
}

void add_completion_command(CLI::App& app) {
  State& s = state();
  s.root = &app;
  s.command = app.add_subcommand(
      "completion", "Print a completion script for SHELL (bash): every subcommand and option, at every level");
  s.command->add_option("SHELL", s.shell, "The shell: bash (the package installs its script for bash-completion)")
      ->required()
      ->check(CLI::IsMember({"bash"}));
}

std::optional<int> dispatch_completion_command() {
  State& s = state();
  if (s.command == nullptr || !s.command->parsed()) return std::nullopt;
  const std::string script = bash_completion_script(*s.root);
  std::fwrite(script.data(), 1, script.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitError;
}

}  // namespace cordon::cli
