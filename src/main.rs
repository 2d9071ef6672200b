fn main() {
    println!("sim: nothing here yet");
}
