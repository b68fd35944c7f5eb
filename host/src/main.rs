fn main() {
    std::process::exit(sollecito::cli::main());
}
